/**
 * The llama backend through the real server, on the tiny GGUF fixtures in ../shared/models
 * (random weights: the text is gibberish, so the tests check structure, grammars, counts,
 * caching and concurrency, which do not need a capable model).
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type Anthropic from "@anthropic-ai/sdk";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConfigFile, defaultModels } from "../src/config/index.ts";
import type { UsageRecord } from "../src/store/index.ts";
import { parseSse, startTestServer, type TestServer } from "./helpers/server.ts";

const MODELS_DIR = resolve(process.env.PARLEY_MODELS_DIR ?? join(import.meta.dirname, "../../shared/models"));
const TINY = join(MODELS_DIR, "llama-2-tiny-random.gguf");
const present = existsSync(TINY);
if (!present)
  console.warn(`llama tests skipped: ${TINY} not found (set PARLEY_MODELS_DIR to the fixtures folder)`);

const CAPTURE = resolve(import.meta.dirname, "../../shared/wire/captures/claude-code-2.1.197-tool.jsonl");

const models: ConfigFile["models"] = [
  { id: "tiny", provider: "llama", path: TINY, context_window: 8192, parallel: 4, max_queue: 8 },
  // All four slots in one context, whatever the cores: the cache-edit test needs them to share its lock.
  { id: "one-context", provider: "llama", path: TINY, context_window: 8192, parallel: 4, contexts: 1 },
  { id: "two-contexts", provider: "llama", path: TINY, context_window: 8192, parallel: 4, contexts: 2 },
  { id: "solo", provider: "llama", path: TINY, context_window: 1024, parallel: 1, max_queue: 0 },
  {
    id: "raw-billing",
    provider: "llama",
    path: TINY,
    context_window: 8192,
    parallel: 1,
    normalize_claude_code_billing: false,
  },
  { id: "missing", provider: "llama", path: join(MODELS_DIR, "no-such-model.gguf") },
  { id: "mock", provider: "mock" },
];

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
const clock = {
  name: "get_time",
  description: "Current time",
  input_schema: { type: "object" as const, properties: { utc: { type: "boolean" } }, required: ["utc"] },
};

const ajv = new Ajv({ strict: false });
/**
 * For the calls whose input is checked against a schema with a string length: sampled at
 * temperature 1, the random model now and then emits bytes that are not valid UTF-8 inside the
 * string, the grammar counts them as fewer characters than they decode to, and node-llama-cpp
 * rejects its own call (an api_error, see generationFailure). Greedy decoding makes the reply the
 * same in every run. `temperature` is a 2023-06-01 field that SDK 1.x's types no longer have;
 * Parley takes it under either version.
 */
const GREEDY: object = { temperature: 0 };
const text = (m: Anthropic.Message) => m.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");

describe.skipIf(!present)("llama provider through the server", () => {
  let server: TestServer;
  let client: Anthropic;

  beforeAll(async () => {
    server = await startTestServer({ models });
    client = server.client();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const count = (params: Omit<Anthropic.MessageCountTokensParams, "model">, model = "tiny") =>
    client.messages.countTokens({ model, ...params }).then((r) => r.input_tokens);
  const promptTokens = (u: Anthropic.Usage) =>
    u.input_tokens + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0);

  it("replies to a plain prompt, and count_tokens equals the reply's prompt tokens", async () => {
    const messages = [{ role: "user" as const, content: "Say hello in one short sentence, please." }];
    const reply = await client.messages.create({ model: "tiny", max_tokens: 12, messages });
    expect(reply.type).toBe("message");
    expect(reply.model).toBe("tiny");
    expect(reply.content[0]?.type).toBe("text");
    expect(text(reply).length).toBeGreaterThan(0);
    expect(["max_tokens", "end_turn"]).toContain(reply.stop_reason);
    expect(reply.usage.output_tokens).toBeGreaterThan(0);
    expect(reply.usage.output_tokens).toBeLessThanOrEqual(12);
    expect(promptTokens(reply.usage)).toBe(await count({ messages }));
  });

  it("replies to a Chinese prompt with whole characters and counts it with the model's tokenizer", async () => {
    const messages = [{ role: "user" as const, content: "请用中文介绍一下你自己。" }];
    // Greedy, so the check is repeatable: sampled at random, the tiny model can pick byte
    // tokens that form no character at all, which no decoder can make whole.
    // (The SDK no longer types `temperature`, hence the raw request.)
    const res = await server.post("/v1/messages", {
      model: "tiny",
      max_tokens: 16,
      temperature: 0,
      messages,
    });
    const reply = (await res.json()) as Anthropic.Message;
    expect(text(reply)).not.toContain("\uFFFD");
    const tokens = await count({ messages });
    expect(tokens).toBe(promptTokens(reply.usage));
    // SentencePiece Llama-2 vocab: most CJK characters are one or more tokens each.
    expect(tokens).toBeGreaterThan(await count({ messages: [{ role: "user", content: "" + "Hi" }] }));
  });

  it("streams events in the hosted order and the deltas add up to the folded reply", async () => {
    const body = {
      model: "tiny",
      max_tokens: 10,
      temperature: 0,
      stream: true,
      messages: [{ role: "user", content: "Stream me something." }],
    };
    const res = await server.post("/v1/messages", body);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = parseSse(await res.text());
    const names = events.map((e) => e.event).filter((e) => e !== "ping");
    expect(names[0]).toBe("message_start");
    expect(names[1]).toBe("content_block_start");
    expect(names.slice(2, -3).every((n) => n === "content_block_delta")).toBe(true);
    expect(names.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    const streamed = events
      .filter((e) => e.event === "content_block_delta")
      .map((e) => (e.data.delta as { text: string }).text)
      .join("");
    const folded = await client.messages.create({
      ...body,
      stream: false,
    } as Anthropic.MessageCreateParamsNonStreaming);
    expect(streamed).toBe(text(folded));
  });

  it("forces a tool call with tool_choice any: the input validates against the schema, streamed as input_json_delta", async () => {
    const stream = client.messages.stream({
      model: "tiny",
      max_tokens: 80,
      tools: [weather],
      tool_choice: { type: "any" },
      ...GREEDY,
      messages: [{ role: "user", content: "Weather in Paris?" }],
    });
    let partial = "";
    stream.on("inputJson", (delta) => {
      partial += delta;
    });
    const reply = await stream.finalMessage();
    expect(reply.stop_reason).toBe("tool_use");
    const call = reply.content.find((b) => b.type === "tool_use");
    expect(call?.name).toBe("get_weather");
    expect(call?.id).toMatch(/^toolu_/);
    expect(ajv.validate(weather.input_schema, call?.input)).toBe(true);
    expect(JSON.parse(partial)).toEqual(call?.input);
  });

  it("calls the named tool with tool_choice tool, and only one with disable_parallel_tool_use", async () => {
    const reply = await client.messages.create({
      model: "tiny",
      max_tokens: 80,
      tools: [weather, clock],
      tool_choice: { type: "tool", name: "get_time", disable_parallel_tool_use: true },
      messages: [{ role: "user", content: "What time is it?" }],
    });
    const calls = reply.content.filter((b) => b.type === "tool_use");
    expect(calls).toHaveLength(1);
    expect(calls[0]?.name).toBe("get_time");
    expect(ajv.validate(clock.input_schema, calls[0]?.input)).toBe(true);
    expect(reply.stop_reason).toBe("tool_use");
  });

  it("a tool schema no grammar can enforce (minItems 100000) is a 400 naming the tool, not a 500", async () => {
    const huge = {
      name: "fill",
      input_schema: {
        type: "object" as const,
        properties: { l: { type: "array", minItems: 100_000 } },
        required: ["l"],
      },
    };
    const res = await server.post("/v1/messages", {
      model: "tiny",
      max_tokens: 8,
      tools: [huge],
      tool_choice: { type: "any" },
      messages: [{ role: "user", content: "go" }],
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.message).toContain("tools[name=fill].input_schema: minItems: 100000");
  });

  it("says max_tokens, not tool_use, when the budget cuts a tool call short", async () => {
    const reply = await client.messages.create({
      model: "tiny",
      max_tokens: 3,
      tools: [weather],
      tool_choice: { type: "any" },
      messages: [{ role: "user", content: "Weather?" }],
    });
    expect(reply.stop_reason).toBe("max_tokens");
  });

  it("runs a two-step tool loop: the tool_result is rendered into the next prompt", async () => {
    const first = await client.messages.create({
      model: "tiny",
      max_tokens: 80,
      tools: [weather],
      tool_choice: { type: "any" },
      ...GREEDY,
      messages: [{ role: "user", content: "Weather in Oslo?" }],
    });
    const call = first.content.find((b) => b.type === "tool_use") as Anthropic.ToolUseBlock;
    const messages: Anthropic.MessageParam[] = [
      { role: "user", content: "Weather in Oslo?" },
      { role: "assistant", content: first.content as Anthropic.ContentBlockParam[] },
      {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: call.id, content: "Sunny, 21 degrees, light wind" }],
      },
    ];
    const second = await client.messages.create({ model: "tiny", max_tokens: 8, tools: [weather], messages });
    expect(second.type).toBe("message");
    const withResult = await count({ tools: [weather], messages });
    const withoutText = await count({
      tools: [weather],
      messages: [
        messages[0] as Anthropic.MessageParam,
        messages[1] as Anthropic.MessageParam,
        { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "" }] },
      ],
    });
    expect(withResult).toBeGreaterThan(withoutText);
    expect(promptTokens(second.usage)).toBe(withResult);
  });

  it("constrains structured output by grammar: the text parses and validates", async () => {
    const schema = {
      type: "object",
      properties: {
        mood: { type: "string", enum: ["happy", "sad", "calm"] },
        ok: { type: "boolean" },
        tags: { type: "array", items: { type: "string", enum: ["a", "b"] }, maxItems: 2 },
      },
      required: ["mood", "ok", "tags"],
      additionalProperties: false,
    };
    const res = await server.post("/v1/messages", {
      model: "tiny",
      max_tokens: 60,
      messages: [{ role: "user", content: "How are you?" }],
      output_config: { format: { type: "json_schema", schema } },
    });
    expect(res.status).toBe(200);
    const reply = (await res.json()) as Anthropic.Message;
    expect(reply.stop_reason).toBe("end_turn");
    expect(ajv.validate(schema, JSON.parse(text(reply)))).toBe(true);
  });

  it("stops on a stop sequence across token boundaries and reports which one", async () => {
    const base = {
      model: "tiny",
      temperature: 0,
      max_tokens: 24,
      messages: [{ role: "user" as const, content: "Tell me a long story." }],
    };
    const full = text(await client.messages.create(base));
    const stopAt = full.slice(6, 11);
    expect(stopAt.length).toBe(5);
    const reply = await client.messages.create({ ...base, stop_sequences: ["never-there", stopAt] });
    expect(reply.stop_reason).toBe("stop_sequence");
    expect(reply.stop_sequence).toBe(stopAt);
    expect(text(reply)).toBe(full.slice(0, full.indexOf(stopAt)));
  });

  it("serves four concurrent streams to completion from two contexts decoding side by side", async () => {
    const replies = await Promise.all(
      [1, 2, 3, 4].map((i) =>
        client.messages
          .stream({
            model: "two-contexts",
            max_tokens: 20,
            messages: [{ role: "user", content: `Stream number ${i}` }],
          })
          .finalMessage(),
      ),
    );
    for (const r of replies) {
      expect(["max_tokens", "end_turn"]).toContain(r.stop_reason);
      expect(r.usage.output_tokens).toBeGreaterThan(0);
    }
  });

  it("starts a request whose slot holds another conversation while two replies are generating", async () => {
    // Every slot holds a conversation of its own first, so each later request must erase one.
    await Promise.all(
      [1, 2, 3, 4].map((i) =>
        client.messages.create({
          model: "one-context",
          max_tokens: 4,
          messages: [{ role: "user", content: `Fill slot ${i} with this conversation` }],
        }),
      ),
    );
    /** Streams one reply, noting when its first delta and its message_stop arrived. */
    const timed = (content: string, maxTokens: number) => {
      const at: { first?: number; stop?: number } = {};
      const stream = client.messages.stream({
        model: "one-context",
        max_tokens: maxTokens,
        messages: [{ role: "user", content }],
      });
      stream.on("streamEvent", (e) => {
        if (e.type === "content_block_delta") at.first ??= performance.now();
        if (e.type === "message_stop") at.stop = performance.now();
      });
      return { at, done: stream.finalMessage() };
    };
    const long = [timed("Go on at length, first", 600), timed("Go on at length, second", 600)];
    for (let i = 0; i < 500 && long.some((r) => r.at.first === undefined); i++) {
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(long.every((r) => r.at.first !== undefined && r.at.stop === undefined)).toBe(true);
    // Both long replies are generating: a third request comes in, for a slot it must erase.
    const late = timed("A short question", 4);
    await late.done;
    for (const r of long) expect((await r.done).stop_reason).toBe("max_tokens");
    // Before the fix it waited (its cache edit locked out) until both long replies had ended.
    const firstStop = Math.min(...long.map((r) => r.at.stop ?? 0));
    expect(late.at.first).toBeLessThan(firstStop);
  });

  it("frees the slot as soon as a streaming client aborts", async () => {
    const abort = new AbortController();
    const res = await fetch(`${server.url}/v1/messages`, {
      method: "POST",
      signal: abort.signal,
      headers: { "content-type": "application/json", "x-api-key": "sk-test-key-0001" },
      body: JSON.stringify({
        model: "solo",
        max_tokens: 400,
        stream: true,
        messages: [{ role: "user", content: "Go on for a long time." }],
      }),
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read(); // generation has started and holds the only slot
    const busy = await server.post("/v1/messages", {
      model: "solo",
      max_tokens: 2,
      messages: [{ role: "user", content: "me too" }],
    });
    expect(busy.status).toBe(529);
    abort.abort();
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const r = await server.post("/v1/messages", {
        model: "solo",
        max_tokens: 2,
        messages: [{ role: "user", content: "me too" }],
      });
      status = r.status;
    }
    expect(status).toBe(200);
  });

  it("reuses the cached prefix of an earlier conversation and reports it honestly", async () => {
    const messages: Anthropic.MessageParam[] = [
      { role: "user", content: `A fresh conversation ${Date.now()} with a long enough opening message.` },
    ];
    const system = "You are a careful assistant that answers briefly.";
    const first = await client.messages.create({ model: "tiny", max_tokens: 4, system, messages });
    expect(first.usage.cache_read_input_tokens).toBeLessThan(promptTokens(first.usage) / 2);
    const again = await client.messages.create({ model: "tiny", max_tokens: 4, system, messages });
    const total = await count({ system, messages });
    expect(promptTokens(again.usage)).toBe(total);
    expect(again.usage.cache_read_input_tokens).toBe(total - 1); // the last token is re-evaluated for logits
    expect(again.usage.input_tokens).toBe(1);
  });

  it("caps a client's hard-coded max_tokens 64000 at half the context window when the config sets no limit", async () => {
    const reply = await client.messages
      .stream({
        model: "solo",
        max_tokens: 64000,
        messages: [{ role: "user", content: "Write until you are stopped." }],
      })
      .finalMessage();
    expect(reply.usage.output_tokens).toBeLessThanOrEqual(512);
    expect(["max_tokens", "end_turn"]).toContain(reply.stop_reason);
  });

  it("refuses a prompt plus max_tokens beyond the context window with a 400 naming both numbers", async () => {
    const long = "lorem ipsum dolor sit amet ".repeat(150); // fits the 1024 window alone, not with 200 more
    const res = await server.post("/v1/messages", {
      model: "solo",
      max_tokens: 200,
      messages: [{ role: "user", content: long }],
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("invalid_request_error");
    const tokens = await count({ messages: [{ role: "user", content: long }] }, "solo");
    expect(body.error.message).toBe(
      `input length and \`max_tokens\` exceed context limit: ${tokens} + 200 > 1024 (max_tokens 200), decrease input length or \`max_tokens\` and try again`,
    );
  });

  it("rejects a thinking block whose signature does not verify", async () => {
    const res = await server.post("/v1/messages", {
      model: "tiny",
      max_tokens: 4,
      messages: [
        { role: "user", content: "hi" },
        {
          role: "assistant",
          content: [{ type: "thinking", thinking: "I think so.", signature: "p1.forged" }],
        },
        { role: "user", content: "and?" },
      ],
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error).toEqual({
      type: "invalid_request_error",
      message: "messages.1.content.0: Invalid `signature` in `thinking` block",
    });
  });

  it("lists a model whose file is missing as unavailable, answers it with an api_error, and keeps serving others", async () => {
    const info = (await (
      await fetch(`${server.url}/v1/models/missing`, { headers: { "x-api-key": "sk-test-key-0001" } })
    ).json()) as { parley: { available: boolean; reason: string } };
    expect(info.parley.available).toBe(false);
    expect(info.parley.reason).toMatch(/no-such-model\.gguf/);
    expect(info.parley.reason).toMatch(/Fix `path:`/);
    const res = await server.post("/v1/messages", {
      model: "missing",
      max_tokens: 4,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("api_error");
    expect(body.error.message).toMatch(/no-such-model\.gguf/);
    const mock = await client.messages.create({
      model: "mock",
      max_tokens: 20,
      messages: [{ role: "user", content: "ok" }],
    });
    expect(text(mock)).toContain("ok");
  });

  describe.skipIf(!existsSync(CAPTURE))("a captured Claude Code session", () => {
    const turns = () =>
      readFileSync(CAPTURE, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { method: string; body: Record<string, unknown> | null })
        .filter((r) => r.method === "POST" && r.body)
        .map((r) => r.body as Record<string, unknown>);

    /** Each turn carries a different billing value, as Claude Code's do. */
    const replay = async (model: string) => {
      const [one, two] = turns();
      const billing = (b: Record<string, unknown>, v: string) => {
        const system = structuredClone(b.system) as { text: string }[];
        (system[0] as { text: string }).text =
          `x-anthropic-billing-header: cc_version=2.1.197.${v}; cc_entrypoint=sdk-cli; cch=${v}${v};`;
        return { ...b, system, model, max_tokens: 8, stream: false };
      };
      await server.post("/v1/messages", billing(one as Record<string, unknown>, "c79")).then((r) => r.json());
      const res = await server.post("/v1/messages", billing(two as Record<string, unknown>, "18e"));
      expect(res.status).toBe(200);
      return ((await res.json()) as Anthropic.Message).usage;
    };

    it("reuses the whole shared prefix of the next turn when the billing header is normalised", async () => {
      const usage = await replay("tiny");
      const total = promptTokens(usage);
      expect(usage.cache_read_input_tokens ?? 0).toBeGreaterThan(total * 0.8);
    });

    it("re-reads nearly everything when normalisation is switched off", async () => {
      const usage = await replay("raw-billing");
      expect(usage.cache_read_input_tokens ?? 0).toBeLessThan(promptTokens(usage) * 0.05);
    });
  });
});

describe("the built-in default model", () => {
  it("starts without downloading, and a request that cannot get the file says why and how to fix it", async () => {
    const [local, mock] = defaultModels();
    expect(local).toMatchObject({ provider: "llama", load: "lazy" });
    expect(mock).toMatchObject({ id: "mock", provider: "mock" });
    // download: false stands in for being offline; tests never download.
    const server = await startTestServer({ models: [{ ...local, download: false } as never, mock as never] });
    try {
      const res = await server.post("/v1/messages", {
        model: "local",
        max_tokens: 4,
        messages: [{ role: "user", content: "hi" }],
      });
      expect(res.status).toBe(500);
      const body = (await res.json()) as { error: { type: string; message: string } };
      expect(body.error.type).toBe("api_error");
      expect(body.error.message).toMatch(/Cannot get hf:Qwen\/Qwen2\.5-0\.5B-Instruct-GGUF/);
      expect(body.error.message).toMatch(/set `path:` to a local \.gguf file/);
      const ok = await server.post("/v1/messages", {
        model: "mock",
        max_tokens: 8,
        messages: [{ role: "user", content: "hi" }],
      });
      expect(ok.status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});

describe.skipIf(!present)("a client that leaves a non-streamed local reply", () => {
  it("stops the generation (the caller's signal reaches node-llama-cpp), and the record says so", async () => {
    const records: UsageRecord[] = [];
    const server = await startTestServer(
      { models: [{ id: "solo", provider: "llama", path: TINY, context_window: 4096, parallel: 1 }] },
      { recorder: { record: (r) => records.push(r) } },
    );
    try {
      const abort = new AbortController();
      // Non-streamed: nothing reads the reply event by event, so only the signal can stop it.
      const leaving = fetch(`${server.url}/v1/messages`, {
        method: "POST",
        signal: abort.signal,
        headers: { "content-type": "application/json", "x-api-key": "sk-test-key-0001" },
        body: JSON.stringify({
          model: "solo",
          max_tokens: 3000,
          messages: [{ role: "user", content: "Go on for a long time." }],
        }),
      }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
      abort.abort();
      await leaving;
      for (let i = 0; i < 500 && records.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(records).toHaveLength(1);
      expect(records[0]?.status).toBe(499);
      // Left to run, the random model goes on to the cap (max_tokens is clamped to half the
      // context window, 2048): about 2040 tokens in 0.9 s here, against about 270 when stopped.
      expect(records[0]?.output_tokens).toBeLessThan(1024);
    } finally {
      await server.stop();
    }
  });
});
