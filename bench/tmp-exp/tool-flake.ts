import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { buildConfig } from "../../src/config/index.ts";
import { startServer } from "../../src/server/index.ts";

const TINY = join(process.env.PARLEY_MODELS_DIR as string, "llama-2-tiny-random.gguf");
const weather = {
  name: "get_weather",
  description: "Current weather for a city",
  input_schema: {
    type: "object" as const,
    properties: {
      city: { type: "string", maxLength: 12 },
      unit: { type: "string", enum: ["c", "f"] },
      days: { type: "integer", enum: [1, 2, 3] },
    },
    required: ["city", "unit"],
    additionalProperties: false,
  },
};
const config = buildConfig(
  {
    log_level: "error",
    listen: { host: "127.0.0.1", port: 0 },
    data_dir: "/tmp/tool-flake",
    keys: [{ key: "sk-x-0001", name: "x" }],
    models: [{ id: "tiny", provider: "llama", path: TINY, context_window: 8192, parallel: 4, max_queue: 8 }],
  },
  {},
  {},
  "x",
);
const server = await startServer(config);
const client = new Anthropic({ baseURL: server.url, apiKey: "sk-x-0001", maxRetries: 0 });
let fails = 0;
const N = Number(process.argv[2] ?? 100);
const one = async (i: number) => {
  try {
    await client.messages.create({
      model: "tiny",
      max_tokens: 80,
      tools: [weather],
      tool_choice: { type: "any" },
      messages: [{ role: "user", content: `Weather in Oslo? ${i % 7}` }],
    });
  } catch (e) {
    fails++;
    console.log("fail", i, String(e).slice(0, 200));
  }
};
const C = Number(process.argv[3] ?? 4);
for (let i = 0; i < N; i += C) await Promise.all(Array.from({ length: C }, (_, j) => one(i + j)));
console.log("fails", fails, "of", N);
await server.close();
