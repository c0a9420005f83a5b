import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  eventsOrBatches,
  foldStream,
  isBatch,
  type StreamEvent,
  ThinkingSigner,
  toMessageRequest,
} from "../src/protocol/index.ts";
import { AnthropicProvider } from "../src/providers/anthropic/index.ts";
import type { Provider, RelayingProvider } from "../src/providers/index.ts";
import { OpenAIProvider } from "../src/providers/openai/index.ts";
import { withFallbacks } from "../src/providers/upstream/index.ts";
import { type FakeUpstream, json, replyOpenAI, startFakeUpstream } from "./fakes/http-upstream.ts";
import { foldChunks, vllm } from "./fakes/openai-chunks.ts";

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const deps = { dataDir: "/tmp", logger: silent, signer: new ThinkingSigner(Buffer.alloc(32, 1)) };
const timeouts = { connect_ms: 300, first_byte_ms: 300, idle_ms: 300 };
let down: FakeUpstream;
let up: FakeUpstream;

const request = (stream: boolean) =>
  toMessageRequest(
    { model: "primary", max_tokens: 50, stream, messages: [{ role: "user", content: "hello" }] },
    { apiVersion: "2023-06-01", rawApiVersion: "2023-06-01", betas: [] },
  );
const opts = () => ({ signal: new AbortController().signal, requestId: "req_test" });

beforeAll(async () => {
  down = await startFakeUpstream((_req, res) => json(res, 503, { error: "loading model" }));
  up = await startFakeUpstream((req, res) =>
    replyOpenAI(req, res, vllm.text(["from ", "backup"]), foldChunks),
  );
});
afterAll(async () => {
  await Promise.all([down.close(), up.close()]);
});

/** A model whose reply is these events, one at a time. */
const modelOf = (stream: () => AsyncIterable<StreamEvent>): Provider => ({
  kind: "test",
  stream,
  countTokens: async () => 1,
  status: () => ({ available: true }),
});

describe("fallbacks", () => {
  let backup: OpenAIProvider;
  beforeAll(() => {
    backup = new OpenAIProvider(
      { id: "backup", provider: "openai", base_url: `${up.origin}/v1`, timeouts, health_check_ms: 0 },
      deps,
    );
  });

  it("a model whose upstreams all fail answers from its fallback, under the name the client asked for", async () => {
    const primary = new OpenAIProvider(
      { id: "primary", provider: "openai", base_url: `${down.origin}/v1`, timeouts, health_check_ms: 0 },
      deps,
    );
    const models: Record<string, Provider> = { backup };
    const p = withFallbacks(primary, ["missing", "backup"], (id) => models[id], silent);
    for (const stream of [true, false]) {
      const msg = await foldStream(p.stream(request(stream), opts()));
      expect(msg).toMatchObject({ model: "primary", content: [{ type: "text", text: "from backup" }] });
    }
    expect(down.requests.length).toBeGreaterThanOrEqual(1);
  });

  it("a relaying model falls back to a non-relaying one with an SSE reply built from its events", async () => {
    const primary = new AnthropicProvider(
      { id: "primary", provider: "anthropic", base_url: down.origin, timeouts, health_check_ms: 0 },
      deps,
    );
    const p = withFallbacks(primary, ["backup"], () => backup, silent) as RelayingProvider;
    const relayed = await p.relay(request(true), opts());
    const chunks: Buffer[] = [];
    for await (const c of relayed.body) chunks.push(Buffer.from(c));
    const text = Buffer.concat(chunks).toString();
    expect(text).toMatch(/^event: message_start\n/);
    expect(text).toContain('"text":"backup"');
    expect(text.trimEnd().endsWith('data: {"type":"message_stop"}')).toBe(true);
    expect(await relayed.usage).toMatchObject({ output_tokens: 2 });
  });

  it("a request error (400) does not fall back", async () => {
    const bad = await startFakeUpstream((_req, res) =>
      json(res, 400, { error: { message: "max_tokens too large" } }),
    );
    const primary = new OpenAIProvider(
      { id: "primary", provider: "openai", base_url: `${bad.origin}/v1`, timeouts, health_check_ms: 0 },
      deps,
    );
    const p = withFallbacks(primary, ["backup"], () => backup, silent);
    await expect(foldStream(p.stream(request(false), opts()))).rejects.toMatchObject({
      status: 400,
      message: "max_tokens too large",
    });
    await bad.close();
  });

  it("hands on the chosen model's batches, and one event a batch from a model that has none", async () => {
    const primary = new OpenAIProvider(
      { id: "primary", provider: "openai", base_url: `${down.origin}/v1`, timeouts, health_check_ms: 0 },
      deps,
    );
    const p = withFallbacks(primary, ["backup"], () => backup, silent);
    const batches: (readonly StreamEvent[])[] = [];
    for await (const item of eventsOrBatches(p.stream(request(true), opts())))
      if (isBatch(item)) batches.push(item);
    // The fake upstream writes the whole reply at once: one read, one batch, then the closing events.
    expect(batches.length).toBeLessThanOrEqual(2);
    expect(batches.flat().map((e) => e.type)).toEqual([
      "message_start",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);

    async function* plain(): AsyncGenerator<StreamEvent> {
      yield* batches.flat();
    }
    const unbatched = modelOf(() => plain());
    const q = withFallbacks(unbatched, ["backup"], () => backup, silent);
    const items = [];
    for await (const item of eventsOrBatches(q.stream(request(true), opts()))) items.push(item);
    expect(items).toEqual(batches.flat().map((e) => [e]));
  });

  it("a consumer that stops early stops the chosen model's reply", async () => {
    let closed = false;
    async function* endless(): AsyncGenerator<StreamEvent> {
      try {
        for (;;) yield { type: "ping" };
      } finally {
        closed = true;
      }
    }
    const model = modelOf(() => endless());
    const p = withFallbacks(model, ["backup"], () => backup, silent);
    let seen = 0;
    for await (const _ of p.stream(request(true), opts())) if (++seen === 3) break;
    expect(closed).toBe(true);
  });
});
