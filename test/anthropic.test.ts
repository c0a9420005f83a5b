import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelConfig } from "../src/config/index.ts";
import type { UsageRecord } from "../src/store/index.ts";
import { type FakeUpstream, json, sendAnthropicSse, startFakeUpstream } from "./fakes/http-upstream.ts";
import { parseSse, startTestServer, type TestServer } from "./helpers/server.ts";

const UPSTREAM_KEY = "sk-ant-upstream-0123456789";
const records: UsageRecord[] = [];
let primary: FakeUpstream;
let backup: FakeUpstream;
let server: TestServer;

const message = (model: string) => ({
  id: "msg_01UpstreamXYZ",
  type: "message",
  role: "assistant",
  model,
  content: [],
  stop_reason: null,
  stop_sequence: null,
  usage: { input_tokens: 25, output_tokens: 1, cache_read_input_tokens: 7, cache_creation_input_tokens: 0 },
});
const events = (model: string) => [
  { type: "message_start", message: message(model) },
  { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
  { type: "ping" },
  { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Bonjour" } },
  { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: " là" } },
  { type: "content_block_stop", index: 0 },
  {
    type: "message_delta",
    delta: { stop_reason: "end_turn", stop_sequence: null },
    usage: { output_tokens: 4 },
  },
  { type: "message_stop" },
];
const sseBytes = (evs: { type: string }[]) =>
  evs.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("");

const ask = { max_tokens: 64, messages: [{ role: "user" as const, content: "Say hi in French" }] };

beforeAll(async () => {
  primary = await startFakeUpstream();
  backup = await startFakeUpstream();
  const model = (id: string, urls: string[]): ModelConfig => ({
    id,
    provider: "anthropic",
    base_url: urls,
    upstream_model: "claude-haiku-4-5-20251001",
    api_key: UPSTREAM_KEY,
    drop_betas: ["context-management-2025-06-27"],
    timeouts: { connect_ms: 500, first_byte_ms: 500, idle_ms: 500 },
    health_check_ms: 0,
  });
  server = await startTestServer(
    {
      models: [
        model("claude-pass", [primary.origin]),
        model("claude-pair", [`${primary.origin}/v1`, backup.origin]),
      ],
    },
    { recorder: { record: (r) => records.push(r) } },
  );
});
afterAll(async () => {
  await server?.stop();
  await Promise.all([primary?.close(), backup?.close()]);
});

describe("Anthropic pass-through", () => {
  it("relays the upstream's SSE byte-for-byte and records its usage", async () => {
    primary.handle((_req, res) => sendAnthropicSse(res, events("claude-haiku-4-5-20251001")));
    const res = await server.post(
      "/v1/messages?beta=true",
      { model: "claude-pass", ...ask, stream: true },
      {
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "context-management-2025-06-27,interleaved-thinking-2025-05-14",
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("request-id")).toMatch(/^req_/);
    expect(await res.text()).toBe(sseBytes(events("claude-haiku-4-5-20251001")));
    const sent = primary.requests.at(-1);
    expect(sent?.path).toBe("/v1/messages");
    expect(sent?.headers).toMatchObject({
      "x-api-key": UPSTREAM_KEY,
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "interleaved-thinking-2025-05-14",
    });
    expect(sent?.headers.authorization).toBeUndefined();
    expect(sent?.body).toEqual({ model: "claude-haiku-4-5-20251001", ...ask, stream: true });
    await new Promise((r) => setTimeout(r, 20));
    expect(records.at(-1)).toMatchObject({
      model: "claude-pass",
      input_tokens: 25,
      output_tokens: 4,
      cache_read_input_tokens: 7,
      streamed: true,
      status: 200,
    });
  });

  it("the SDK (2026-10-21, Bearer auth) gets the relayed message; the version header is forwarded as sent", async () => {
    primary.handle((_req, res) => sendAnthropicSse(res, events("claude-haiku-4-5-20251001")));
    const msg = await server
      .client()
      .messages.stream({ model: "claude-pass", ...ask })
      .finalMessage();
    expect(msg.content).toEqual([{ type: "text", text: "Bonjour là" }]);
    expect(primary.requests.at(-1)?.headers["anthropic-version"]).toBe("2026-10-21");
    expect(primary.requests.at(-1)?.headers["anthropic-beta"]).toBeUndefined();
  });

  it("relays non-streaming JSON and forwards count_tokens without create-only fields", async () => {
    const full = {
      ...message("claude-haiku-4-5-20251001"),
      content: [{ type: "text", text: "Salut" }],
      stop_reason: "end_turn",
    };
    primary.handle((req, res) =>
      req.path === "/v1/messages/count_tokens" ? json(res, 200, { input_tokens: 17 }) : json(res, 200, full),
    );
    const res = await server.post("/v1/messages", { model: "claude-pass", ...ask });
    expect(await res.json()).toEqual(full);
    const counted = await server
      .client()
      .messages.countTokens({ model: "claude-pass", messages: ask.messages });
    expect(counted.input_tokens).toBe(17);
    expect(primary.requests.at(-1)?.body).toEqual({
      model: "claude-haiku-4-5-20251001",
      messages: ask.messages,
    });
  });

  it("an upstream 400 is the client's 400 with the upstream's message", async () => {
    primary.handle((_req, res) =>
      json(res, 400, {
        type: "error",
        error: {
          type: "invalid_request_error",
          message: "prompt is too long: 250000 tokens > 200000 maximum",
        },
      }),
    );
    const res = await server.post("/v1/messages", { model: "claude-pass", ...ask });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { type: "invalid_request_error", message: "prompt is too long: 250000 tokens > 200000 maximum" },
    });
  });

  it("an overloaded upstream (529) fails over to the next base URL (with or without /v1)", async () => {
    primary.handle((_req, res) =>
      json(res, 529, { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }),
    );
    backup.handle((_req, res) => sendAnthropicSse(res, events("claude-haiku-4-5-20251001")));
    for (let i = 0; i < 2; i++) {
      const res = await server.post("/v1/messages", { model: "claude-pair", ...ask, stream: true });
      expect(
        parseSse(await res.text())
          .map((e) => e.event)
          .at(-1),
      ).toBe("message_stop");
    }
    expect(backup.requests.length).toBe(2);
    expect(backup.requests.every((r) => r.path === "/v1/messages")).toBe(true);
  });

  it("an upstream dying mid-frame: the client gets the whole frames so far, then an error event", async () => {
    primary.handle((_req, res) => sendAnthropicSse(res, events("m"), { dieAfter: 4, delayMs: 15 }));
    const res = await server.post("/v1/messages", { model: "claude-pass", ...ask, stream: true });
    const got = parseSse(await res.text());
    expect(got.map((e) => e.event)).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "error",
    ]);
    expect(got.at(-1)?.data).toEqual({
      type: "error",
      error: { type: "api_error", message: "The upstream of model claude-pass failed mid-reply" },
    });
  });
});
