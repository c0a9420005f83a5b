import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelConfig } from "../src/config/index.ts";
import type { UsageRecord } from "../src/store/index.ts";
import { type FakeUpstream, sendAnthropicSse, startFakeUpstream } from "./fakes/http-upstream.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

/**
 * A client that reads part of a stream and hangs up is charged, and recorded, for what was
 * generated until then: a quota cannot be bypassed by disconnecting before the final usage.
 */

const SHORT = "sk-disconnect-output-100";
const records: UsageRecord[] = [];
let server: TestServer;
let upstream: FakeUpstream;

/** 60 mock tokens, one delta each, 5 ms apart. */
const sixty = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
const ask = (model: string, stream = true) => ({
  model,
  max_tokens: 200,
  stream,
  messages: [{ role: "user" as const, content: `[[delay:5]] ${sixty}` }],
});

beforeAll(async () => {
  upstream = await startFakeUpstream();
  const relay: ModelConfig = {
    id: "relay",
    provider: "anthropic",
    base_url: upstream.origin,
    timeouts: { connect_ms: 500, first_byte_ms: 2000, idle_ms: 2000 },
    health_check_ms: 0,
  };
  server = await startTestServer(
    {
      keys: [
        { key: "sk-test-key-0001", name: "test" },
        { key: SHORT, name: "short", output_tpm: 100 },
      ],
      models: [{ id: "mock", provider: "mock" }, relay],
    },
    { recorder: { record: (r) => records.push(r) } },
  );
});
afterAll(async () => {
  await server?.stop();
  await upstream?.close();
});

/** Reads the SSE body until `deltas` content deltas arrived, then drops the connection. */
async function readThenLeave(body: unknown, deltas: number, key = SHORT): Promise<number> {
  const controller = new AbortController();
  const res = await fetch(`${server.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01" },
    body: JSON.stringify(body),
    signal: controller.signal,
  });
  if (res.status !== 200) {
    await res.text();
    return res.status;
  }
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let seen = 0;
  let text = "";
  while (seen < deltas) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    seen = text.split("event: content_block_delta").length - 1;
  }
  controller.abort();
  return res.status;
}

/** Waits (bounded) until the server recorded `n` rows. */
async function recorded(n: number): Promise<UsageRecord[]> {
  for (let i = 0; i < 200 && records.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  return records.slice(0, n);
}

describe("usage and limits on disconnect", () => {
  it("reading 55 of 60 tokens and leaving is charged: output_tpm 100 gives 200, 200, then 429", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push(await readThenLeave(ask("mock"), 55));
      await recorded(i + 1);
    }
    expect(statuses).toEqual([200, 200, 429]);
    const rows = records.slice(0, 2);
    for (const row of rows) {
      expect(row.status).toBe(499);
      expect(row.output_tokens).toBeGreaterThanOrEqual(55);
      expect(row.output_tokens).toBeLessThan(60);
      expect(row.input_tokens).toBeGreaterThan(0);
    }
  });

  it("a relayed (Anthropic) stream the client leaves is recorded with the output relayed so far", async () => {
    const before = records.length;
    const deltas = Array.from({ length: 40 }, (_, i) => ({
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: `abcd${i % 10}efg ` },
    }));
    const frames: ({ type: string } & Record<string, unknown>)[] = [
      {
        type: "message_start",
        message: {
          id: "msg_1",
          type: "message",
          role: "assistant",
          model: "m",
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 12, output_tokens: 1 },
        },
      },
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      ...deltas,
      { type: "content_block_stop", index: 0 },
      { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 120 } },
      { type: "message_stop" },
    ];
    upstream.handle((_req, res) => sendAnthropicSse(res, frames, { delayMs: 10 }));
    expect(
      await readThenLeave(
        { ...ask("relay"), messages: [{ role: "user" as const, content: "hi" }] },
        10,
        "sk-test-key-0001",
      ),
    ).toBe(200);
    const [row] = (await recorded(before + 1)).slice(before);
    expect(row.status).toBe(499);
    expect(row.input_tokens).toBe(12);
    // 10+ deltas of 10 characters, about 3 tokens each: more than the 1 of message_start
    expect(row.output_tokens).toBeGreaterThanOrEqual(30);
    expect(row.output_tokens).toBeLessThan(120);
  });

  it("a stream read to the end is recorded as 200 with the exact usage", async () => {
    const before = records.length;
    const msg = await server
      .client()
      .messages.stream({ ...ask("mock"), stream: undefined })
      .finalMessage();
    const [row] = (await recorded(before + 1)).slice(before);
    expect([row.status, row.output_tokens]).toEqual([200, msg.usage.output_tokens]);
    expect(msg.usage.output_tokens).toBe(60);
  });
});
