import type { ServerResponse } from "node:http";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelConfig } from "../src/config/index.ts";
import { toAnthropicToolId as toolId } from "../src/providers/openai/index.ts";
import {
  type FakeUpstream,
  hang,
  json,
  type RecordedRequest,
  replyOpenAI,
  startFakeUpstream,
} from "./fakes/http-upstream.ts";
import { foldChunks, vllm } from "./fakes/openai-chunks.ts";
import { parseSse, startTestServer, type TestServer } from "./helpers/server.ts";

const UPSTREAM_KEY = "upstream-secret-key-9f8e7d";
const logLines: string[] = [];
const logger = pino(
  { level: "debug" },
  new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
);

const fakes: Record<string, FakeUpstream> = {};
let server: TestServer;

const quick = { connect_ms: 500, first_byte_ms: 400, idle_ms: 400 };
const openai = (id: string, upstreams: string[], extra: Partial<ModelConfig> = {}): ModelConfig =>
  ({
    id,
    provider: "openai",
    base_url: upstreams.map((u) => `${fakes[u].origin}/v1`),
    upstream_model: "qwen2.5-7b-instruct",
    api_key: UPSTREAM_KEY,
    timeouts: quick,
    health_check_ms: 0,
    ...extra,
  }) as ModelConfig;

const weather = {
  name: "get_weather",
  description: "Weather for a city",
  input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] },
};
/** Replies with these chunks, streamed or folded as the request asks. */
const chat =
  (chunks: unknown[], opts: { delayMs?: number; dieAfter?: number } = {}) =>
  (req: RecordedRequest, res: ServerResponse) =>
    replyOpenAI(req, res, chunks, foldChunks, opts);

const ask = { max_tokens: 200, messages: [{ role: "user" as const, content: "Weather in Paris?" }] };

beforeAll(async () => {
  for (const name of [
    "tools",
    "dies",
    "dies2",
    "bad500",
    "good",
    "hangs",
    "good2",
    "limitedA",
    "limitedB",
    "secretive",
  ])
    fakes[name] = await startFakeUpstream();
  server = await startTestServer(
    {
      log_level: "debug",
      models: [
        openai("oai-tools", ["tools"], { aliases: ["claude-sonnet-4-5"] }),
        openai("oai-dies", ["dies"]),
        openai("oai-dies-2", ["dies2"]),
        openai("oai-500", ["bad500", "good"]),
        openai("oai-hang", ["hangs", "good2"]),
        openai("oai-429", ["limitedA", "limitedB"]),
        openai("oai-secret", ["secretive"]),
      ],
    },
    { logger },
  );
});
afterAll(async () => {
  await server?.stop();
  await Promise.all(Object.values(fakes).map((f) => f.close()));
});

describe("OpenAI-compatible upstream through the server", () => {
  it("a tool call streamed in fragments reaches the SDK as one tool_use with its input", async () => {
    fakes.tools.handle(
      chat(
        vllm.toolCalls(
          [{ id: "chatcmpl-tool-1", name: "get_weather", fragments: ['{"ci', 'ty": "Pa', 'ris"}'] }],
          [31, 9],
        ),
      ),
    );
    const stream = server.client().messages.stream({ model: "claude-sonnet-4-5", ...ask, tools: [weather] });
    const deltas: string[] = [];
    stream.on("inputJson", (partial) => deltas.push(partial));
    const msg = await stream.finalMessage();
    expect(msg).toMatchObject({
      model: "claude-sonnet-4-5",
      content: [
        { type: "tool_use", id: toolId("chatcmpl-tool-1"), name: "get_weather", input: { city: "Paris" } },
      ],
      stop_reason: "tool_use",
      usage: { input_tokens: 31, output_tokens: 9 },
    });
    // Assembled and checked against the schema before it is sent: one delta with the whole input.
    expect(deltas).toEqual(['{"city":"Paris"}']);
    const sent = fakes.tools.requests.at(-1);
    expect(sent?.path).toBe("/v1/chat/completions");
    expect(sent?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(sent?.body).toMatchObject({
      model: "qwen2.5-7b-instruct",
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: "function", function: { name: "get_weather" } }],
      tool_choice: "auto",
    });
  });

  it("two parallel tool calls arrive as two tool_use blocks, streamed and folded", async () => {
    fakes.tools.handle(
      chat(
        vllm.toolCalls([
          { id: "call_1", name: "get_weather", fragments: ['{"city":', '"Paris"}'] },
          { id: "call_2", name: "get_weather", fragments: ['{"city":"Oslo"}'] },
        ]),
      ),
    );
    const res = await server.post("/v1/messages", {
      model: "oai-tools",
      ...ask,
      tools: [weather],
      stream: true,
    });
    expect(res.status).toBe(200);
    const events = parseSse(await res.text());
    const blocks = events.filter((e) => e.event === "content_block_start").map((e) => e.data.content_block);
    expect(blocks).toEqual([
      { type: "tool_use", id: toolId("call_1"), name: "get_weather", input: {} },
      { type: "tool_use", id: toolId("call_2"), name: "get_weather", input: {} },
    ]);
    const jsonDeltas = events
      .filter((e) => e.event === "content_block_delta")
      .map((e) => [e.data.index, (e.data.delta as { partial_json: string }).partial_json]);
    expect(jsonDeltas).toEqual([
      [0, '{"city":"Paris"}'],
      [1, '{"city":"Oslo"}'],
    ]);
    const msg = await server.client().messages.create({ model: "oai-tools", ...ask, tools: [weather] });
    expect(msg.content.map((b) => (b.type === "tool_use" ? b.input : b.type))).toEqual([
      { city: "Paris" },
      { city: "Oslo" },
    ]);
    expect(fakes.tools.requests.at(-1)?.body).toMatchObject({ stream: false });
  });

  it("an upstream that dies mid-stream gives the client an error event, not a hang", async () => {
    fakes.dies.handle(chat(vllm.text(["one", " two", " three"]), { dieAfter: 2, delayMs: 20 }));
    const res = await server.post("/v1/messages", { model: "oai-dies", ...ask, stream: true });
    expect(res.status).toBe(200);
    const events = parseSse(await res.text());
    expect(events.map((e) => e.event)).toEqual([
      "message_start",
      "ping",
      "content_block_start",
      "content_block_delta",
      "error",
    ]);
    expect(events.at(-1)?.data).toEqual({
      type: "error",
      error: { type: "api_error", message: "The upstream of model oai-dies failed mid-reply" },
    });
    fakes.dies2.handle(chat(vllm.text(["one", " two", " three"]), { dieAfter: 3, delayMs: 20 }));
    const stream = server.client().messages.stream({ model: "oai-dies-2", ...ask });
    await expect(stream.finalMessage()).rejects.toThrow(/failed mid-reply/);
    // one broken reply does not eject the only upstream: the next request is still tried
    const next = await server.post("/v1/messages", { model: "oai-dies", ...ask });
    expect(next.status).toBe(200);
  });

  it("a 500 from one upstream lands the request on the healthy one", async () => {
    fakes.bad500.handle((_req, res) =>
      json(res, 500, { object: "error", message: "engine crashed", code: 500 }),
    );
    fakes.good.handle(chat(vllm.text(["fine"])));
    for (let i = 0; i < 4; i++) {
      const msg = await server.client().messages.create({ model: "oai-500", ...ask });
      expect(msg.content).toEqual([{ type: "text", text: "fine", citations: null }]);
    }
    // every request that met the 500 moved on to the healthy upstream
    expect(fakes.good.requests.length).toBe(4);
    expect(fakes.bad500.requests.length).toBeGreaterThanOrEqual(1);
  });

  it("a hanging upstream times out at first_byte_ms and the request fails over", async () => {
    fakes.hangs.handle(hang);
    fakes.good2.handle(chat(vllm.text(["rescued"])));
    const started = performance.now();
    const results = await Promise.all(
      [0, 1].map(() => server.client().messages.create({ model: "oai-hang", ...ask, stream: false })),
    );
    for (const msg of results)
      expect(msg.content).toEqual([{ type: "text", text: "rescued", citations: null }]);
    expect(fakes.hangs.requests.length).toBeGreaterThanOrEqual(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(quick.first_byte_ms);
  });

  it("429 from every upstream reaches the client with retry-after", async () => {
    fakes.limitedA.handle((_req, res) =>
      json(res, 429, { error: { message: "slow down" } }, { "retry-after": "7" }),
    );
    fakes.limitedB.handle((_req, res) =>
      json(res, 429, { error: { message: "slow down" } }, { "retry-after": "3" }),
    );
    const res = await server.post("/v1/messages", { model: "oai-429", ...ask });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("3");
    expect(await res.json()).toMatchObject({
      type: "error",
      error: {
        type: "rate_limit_error",
        message: "The upstream for model oai-429 is rate limited; retry later",
      },
    });
    expect(fakes.limitedA.requests.length + fakes.limitedB.requests.length).toBe(2);
    // both are now ejected for their retry-after: the next request fails fast without touching them
    const again = await server.post("/v1/messages", { model: "oai-429", ...ask });
    expect(again.status).toBe(529);
    expect(Number(again.headers.get("retry-after"))).toBeGreaterThanOrEqual(2);
    expect(fakes.limitedA.requests.length + fakes.limitedB.requests.length).toBe(2);
  });

  it("an upstream error that echoes the key reaches neither the client nor the logs", async () => {
    fakes.secretive.handle((req, res) =>
      json(res, 401, { error: { message: `Incorrect API key provided: ${req.headers.authorization}` } }),
    );
    const res = await server.post("/v1/messages", { model: "oai-secret", ...ask });
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).toContain("rejected Parley's credentials");
    expect(body).not.toContain(UPSTREAM_KEY);
    expect(
      logLines.some((l) => l.includes("upstream attempt failed") && l.includes("Incorrect API key")),
    ).toBe(true);
    expect(logLines.join("\n")).not.toContain(UPSTREAM_KEY);
  });

  it("count_tokens uses the upstream's /tokenize (vLLM) and falls back to the estimate without one", async () => {
    fakes.tools.handle((req, res) => {
      if (req.path === "/tokenize") return json(res, 200, { count: 42, max_model_len: 32768, tokens: [] });
      return json(res, 404, { detail: "Not Found" });
    });
    const counted = await server
      .client()
      .messages.countTokens({ model: "oai-tools", messages: ask.messages });
    expect(counted.input_tokens).toBe(42);
    expect(fakes.tools.requests.at(-1)?.body).toMatchObject({
      model: "qwen2.5-7b-instruct",
      messages: [{ role: "user", content: "Weather in Paris?" }],
      add_generation_prompt: true,
    });
    fakes.secretive.handle((_req, res) => json(res, 404, { detail: "Not Found" }));
    const estimated = await server
      .client()
      .messages.countTokens({ model: "oai-secret", messages: ask.messages });
    // 3 for the reply primer + 4 for the message + ceil(17 characters / 4)
    expect(estimated.input_tokens).toBe(12);
  });
});
