/**
 * GET /metrics: scraped before and after known traffic, asserting exact counter deltas and
 * histogram counts (mock model, a fake OpenAI upstream pool with one failing base URL, a
 * single-URL upstream whose first connection resets, a rate-limited key, the llama fixture).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeUpstream, json, replyOpenAI, startFakeUpstream } from "./fakes/http-upstream.ts";
import { foldChunks, vllm } from "./fakes/openai-chunks.ts";
import { parseScrape, type Scrape, scrape } from "./helpers/prometheus.ts";
import { startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

const LIMITED_KEY = "sk-test-limited-0001";
const ADMIN_KEY = "sk-admin-metrics-0001";
const ask = (model: string, text = "hello") => ({
  model,
  max_tokens: 64,
  messages: [{ role: "user" as const, content: text }],
});

describe("GET /metrics", () => {
  let server: TestServer;
  let good: FakeUpstream;
  let bad: FakeUpstream;
  let flaky: FakeUpstream;
  let resets = 0;

  beforeAll(async () => {
    const answer = (req: Parameters<typeof replyOpenAI>[0], res: Parameters<typeof replyOpenAI>[1]) =>
      replyOpenAI(req, res, vllm.text(["from ", "upstream"], [9, 2]), foldChunks);
    good = await startFakeUpstream(answer);
    bad = await startFakeUpstream((_req, res) => json(res, 503, { error: { message: "down" } }));
    flaky = await startFakeUpstream((req, res) => {
      if (resets++ === 0) return void res.socket?.destroy();
      answer(req, res);
    });
    server = await startTestServer({
      keys: [
        { key: TEST_KEY, name: "test" },
        { key: LIMITED_KEY, name: "limited", rpm: 1 },
      ],
      admin_keys: [ADMIN_KEY],
      models: [
        { id: "mock", provider: "mock", aliases: ["mock-alias"], parallel: 2, max_queue: 3 },
        {
          id: "pair",
          provider: "openai",
          base_url: [`${bad.origin}/v1`, `${good.origin}/v1`],
          health_check_ms: 0,
        },
        { id: "flaky", provider: "openai", base_url: `${flaky.origin}/v1`, health_check_ms: 0 },
        { id: "down", provider: "openai", base_url: `${bad.origin}/v1`, health_check_ms: 0 },
      ],
    });
  });
  afterAll(async () => {
    await server?.stop();
    await Promise.all([good?.close(), bad?.close(), flaky?.close()]);
  });

  it("is Prometheus text with process metrics and per-model gauges, no key needed", async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parseScrape(await res.text());
    expect(m.text).toContain("# TYPE parley_requests_total counter");
    expect(m.text).toContain("# TYPE parley_request_duration_seconds histogram");
    expect(m.value("parley_process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(m.value("parley_model_slots", { model: "mock" })).toBe(2);
    expect(m.value("parley_model_slots_busy", { model: "mock" })).toBe(0);
    expect(m.value("parley_model_queue_depth", { model: "mock" })).toBe(0);
    expect(m.value("parley_model_available", { model: "pair" })).toBe(1);
    for (const origin of [bad.origin, good.origin]) {
      const labels = { model: "pair", upstream: `${origin}/v1` };
      expect(m.value("parley_upstream_in_flight", labels)).toBe(0);
      expect(m.value("parley_upstream_healthy", labels)).toBe(1);
      expect(m.value("parley_upstream_breaker_state", { ...labels, state: "closed" })).toBe(1);
    }
    expect(m.value("parley_usage_write_queue")).toBe(0);
    // No key ids, request ids or key names anywhere in the labels.
    expect(m.text).not.toMatch(/\{[^}]*(key|request|name)[^}]*\}/);
    expect(m.text).not.toMatch(/"(test|limited)"/);
  });

  it("counts mock requests, tokens, latency and TTFT by model and streamed, and 529s", async () => {
    const client = server.client();
    const before = await scrape(server.url);
    const a = await client.messages.create(ask("mock"));
    const b = await client.messages.create(ask("mock-alias", "count these words please"));
    const c = await client.messages.stream(ask("mock")).finalMessage();
    await expect(client.messages.create(ask("mock", "[[error:529]]"))).rejects.toMatchObject({ status: 529 });
    await expect(client.messages.create(ask("no-such-model"))).rejects.toMatchObject({ status: 404 });
    const after = await scrape(server.url);
    const d = delta(before, after);

    expect(d("parley_requests_total", { model: "mock", status: "200", error_type: "none" })).toBe(3);
    expect(d("parley_requests_total", { model: "mock", status: "529", error_type: "overloaded_error" })).toBe(
      1,
    );
    expect(d("parley_requests_total", { model: "other", status: "404", error_type: "not_found_error" })).toBe(
      1,
    );
    expect(d("parley_overloaded_total", { model: "mock" })).toBe(1);
    const sum = (f: (u: Anthropic.Usage) => number | null) =>
      [a, b, c].reduce((n, m) => n + (f(m.usage) ?? 0), 0);
    expect(d("parley_tokens_total", { model: "mock", type: "input" })).toBe(sum((u) => u.input_tokens));
    expect(d("parley_tokens_total", { model: "mock", type: "output" })).toBe(sum((u) => u.output_tokens));
    expect(sum((u) => u.output_tokens)).toBeGreaterThan(3);
    // The 529 happened before any output: it has a latency but no first token.
    expect(d("parley_request_duration_seconds_count", { model: "mock", streamed: "false" })).toBe(3);
    expect(d("parley_request_duration_seconds_count", { model: "mock", streamed: "true" })).toBe(1);
    expect(d("parley_time_to_first_token_seconds_count", { model: "mock", streamed: "false" })).toBe(2);
    expect(d("parley_time_to_first_token_seconds_count", { model: "mock", streamed: "true" })).toBe(1);
    expect(d("parley_request_duration_seconds_bucket", { model: "mock", streamed: "true", le: "+Inf" })).toBe(
      1,
    );
    const multi = [a, b, c].filter((m) => m.usage.output_tokens > 1).length;
    expect(multi).toBeGreaterThan(0);
    expect(d("parley_generation_tokens_per_second_count", { model: "mock" })).toBe(multi);
  });

  it("counts failovers away from a failing base URL and a retry after a connection reset", async () => {
    const client = server.client();
    const before = await scrape(server.url);
    const badBefore = bad.requests.length;
    for (let i = 0; i < 4; i++) {
      const m = await client.messages.create(ask("pair"));
      expect(m.content).toMatchObject([{ type: "text", text: "from upstream" }]);
    }
    const f = await client.messages.create(ask("flaky"));
    expect(f.content).toMatchObject([{ type: "text", text: "from upstream" }]);
    const after = await scrape(server.url);
    const d = delta(before, after);
    const badHits = bad.requests.length - badBefore;
    expect(badHits).toBeGreaterThan(0); // least-loaded with round-robin ties sends it some
    const badUrl = { model: "pair", upstream: `${bad.origin}/v1` };
    const goodUrl = { model: "pair", upstream: `${good.origin}/v1` };
    expect(d("parley_upstream_failovers_total", badUrl)).toBe(badHits);
    expect(d("parley_upstream_failovers_total", goodUrl)).toBe(0);
    expect(d("parley_upstream_retries_total", badUrl)).toBe(0);
    const flakyUrl = { model: "flaky", upstream: `${flaky.origin}/v1` };
    expect(d("parley_upstream_retries_total", flakyUrl)).toBe(1);
    expect(d("parley_upstream_failovers_total", flakyUrl)).toBe(0);
    expect(d("parley_requests_total", { model: "pair", status: "200", error_type: "none" })).toBe(4);
    expect(d("parley_tokens_total", { model: "pair", type: "input" })).toBe(4 * 9);
    expect(d("parley_tokens_total", { model: "pair", type: "output" })).toBe(4 * 2);
    expect(after.value("parley_upstream_in_flight", goodUrl)).toBe(0);
  });

  it("shows an upstream that keeps failing as ejected: breaker open, model unavailable", async () => {
    const client = server.client({ maxRetries: 0 });
    const labels = { model: "down", upstream: `${bad.origin}/v1` };
    const before = await scrape(server.url);
    expect(before.value("parley_upstream_breaker_state", { ...labels, state: "closed" })).toBe(1);
    const hitsBefore = bad.requests.length;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(
        await client.messages.create(ask("down")).then(
          () => 200,
          (e: { status: number }) => e.status,
        ),
      );
    }
    const after = await scrape(server.url);
    // Five 503s in a row eject the only upstream; the sixth request is refused without trying it.
    expect(statuses).toEqual([529, 529, 529, 529, 529, 529]);
    expect(bad.requests.length - hitsBefore).toBe(5);
    expect(after.value("parley_upstream_breaker_state", { ...labels, state: "open" })).toBe(1);
    expect(after.value("parley_upstream_breaker_state", { ...labels, state: "closed" })).toBe(0);
    expect(after.value("parley_model_available", { model: "down" })).toBe(0);
    expect(delta(before, after)("parley_overloaded_total", { model: "down" })).toBe(6);
  });

  it("counts 429s by the limit that was hit", async () => {
    const client = server.client({ apiKey: LIMITED_KEY });
    const before = await scrape(server.url);
    await client.messages.create(ask("mock"));
    await expect(client.messages.create(ask("mock"))).rejects.toMatchObject({ status: 429 });
    await expect(client.messages.countTokens(ask("mock"))).resolves.toBeDefined(); // not limited
    const d = delta(before, await scrape(server.url));
    expect(d("parley_rate_limited_total", { limit: "requests", scope: "key" })).toBe(1);
    expect(d("parley_requests_total", { model: "mock", status: "200", error_type: "none" })).toBe(1);
    expect(d("parley_requests_total", { model: "mock", status: "429", error_type: "rate_limit_error" })).toBe(
      1,
    );
  });

  it("counts message requests refused at the edge (key, body, schema) once each, by the model they named", async () => {
    const post = (body: string, headers: Record<string, string> = { "x-api-key": TEST_KEY }) =>
      fetch(`${server.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
      }).then((r) => r.status);
    const before = await scrape(server.url);
    const statuses = [
      await post(JSON.stringify(ask("mock")), {}), // no key
      await post(JSON.stringify(ask("mock")), { "x-api-key": "sk-not-a-key-0000" }),
      await post('{"model": "mock", "max_tokens": 5, "messages": [', undefined), // broken JSON
      await post(JSON.stringify({ model: "mock-alias", messages: [] })), // no max_tokens
      await post(JSON.stringify({ ...ask("mock"), stream: true, temperature: "hot" })),
      await post(JSON.stringify(ask("no-such-model"))), // refused by the service, not the edge
    ];
    const d = delta(before, await scrape(server.url));
    expect(statuses).toEqual([401, 401, 400, 400, 400, 404]);
    // The body is read after the key is checked: a refused key names no model.
    expect(
      d("parley_requests_total", { model: "other", status: "401", error_type: "authentication_error" }),
    ).toBe(2);
    expect(
      d("parley_requests_total", { model: "other", status: "400", error_type: "invalid_request_error" }),
    ).toBe(1);
    expect(
      d("parley_requests_total", { model: "mock", status: "400", error_type: "invalid_request_error" }),
    ).toBe(2);
    expect(d("parley_requests_total", { model: "other", status: "404", error_type: "not_found_error" })).toBe(
      1,
    );
    // Refusals are counted, not timed.
    expect(d("parley_request_duration_seconds_count", { model: "mock", streamed: "true" })).toBe(0);
    expect(d("parley_request_duration_seconds_count", { model: "mock", streamed: "false" })).toBe(0);
  });

  it("a llama fixture model counts KV tokens reused vs evaluated", { timeout: 60_000 }, async (ctx) => {
    const tiny = join(MODELS_DIR, "llama-2-tiny-random.gguf");
    if (!existsSync(tiny)) return ctx.skip(`${tiny} not found (set PARLEY_MODELS_DIR)`);
    const llama = await startTestServer({
      models: [{ id: "tiny", provider: "llama", path: tiny, context_window: 2048, parallel: 1 }],
    });
    try {
      const before = await scrape(llama.url);
      expect(before.value("parley_model_load_state", { model: "tiny", state: "loaded" })).toBe(1);
      expect(before.value("parley_model_load_state", { model: "tiny", state: "loading" })).toBe(0);
      const client = llama.client();
      const params = {
        ...ask("tiny", "the same prompt twice, for the cache"),
        max_tokens: 4,
        temperature: 0,
      };
      const first = await client.messages.create(params);
      const second = await client.messages.create(params);
      const d = delta(before, await scrape(llama.url));
      const usages = [first.usage, second.usage];
      const read = usages.reduce((n, u) => n + (u.cache_read_input_tokens ?? 0), 0);
      const fresh = usages.reduce((n, u) => n + u.input_tokens + (u.cache_creation_input_tokens ?? 0), 0);
      expect(second.usage.cache_read_input_tokens).toBeGreaterThan(0);
      expect(d("parley_llama_kv_tokens_total", { model: "tiny", kind: "reused" })).toBe(read);
      expect(d("parley_llama_kv_tokens_total", { model: "tiny", kind: "evaluated" })).toBe(fresh);
      expect(d("parley_tokens_total", { model: "tiny", type: "cache_read" })).toBe(read);
      expect(d("parley_request_duration_seconds_count", { model: "tiny", streamed: "false" })).toBe(2);
    } finally {
      await llama.stop();
    }
  });
});

describe("metrics config", () => {
  it("metrics.require_admin_key asks for an admin key; metrics.enabled: false serves no /metrics", async () => {
    const locked = await startTestServer({ admin_keys: [ADMIN_KEY], metrics: { require_admin_key: true } });
    const off = await startTestServer({ metrics: { enabled: false } });
    try {
      const none = await fetch(`${locked.url}/metrics`);
      expect(none.status).toBe(401);
      expect(await none.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });
      const user = await fetch(`${locked.url}/metrics`, { headers: { "x-api-key": TEST_KEY } });
      expect(user.status).toBe(403);
      expect(
        (await scrape(locked.url, { "x-api-key": ADMIN_KEY })).value("parley_model_slots_busy", {
          model: "mock",
        }),
      ).toBe(0);
      const gone = await fetch(`${off.url}/metrics`);
      expect(gone.status).toBe(404);
      expect(await gone.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } });
      // Traffic still works without metrics.
      const m = await off.client().messages.create(ask("mock"));
      expect(m.type).toBe("message");
    } finally {
      await Promise.all([locked.stop(), off.stop()]);
    }
  });
});

const MODELS_DIR = resolve(process.env.PARLEY_MODELS_DIR ?? join(import.meta.dirname, "../../shared/models"));

/** Differences between two scrapes of the same series. */
const delta = (before: Scrape, after: Scrape) => (name: string, labels?: Record<string, string>) =>
  after.value(name, labels) - before.value(name, labels);
