import Anthropic from "@anthropic-ai/sdk";
import AnthropicV0 from "anthropic-sdk-0";
import SQLite from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../src/batches/index.ts";
import { ask, resultsOf, waitForEnd } from "./helpers/batches.ts";
import { scrape } from "./helpers/prometheus.ts";
import { startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

const ADMIN_KEY = "sk-admin-batches-01";
const OTHER_KEY = "sk-test-other-workspace";
const BUDGET_KEY = "sk-test-small-budget";

let server: TestServer;
let client: Anthropic;
const clock = new ManualClock(Date.parse("2026-03-02T10:00:00Z"));

beforeAll(async () => {
  server = await startTestServer(
    {
      admin_keys: [ADMIN_KEY],
      keys: [
        { key: TEST_KEY, name: "test" },
        { key: OTHER_KEY, name: "other", workspace: "elsewhere" },
        { key: BUDGET_KEY, name: "budget", monthly_tokens: 60 },
      ],
      models: [
        { id: "mock", provider: "mock", parallel: 8, batch_parallel: 4 },
        { id: "slow", provider: "mock", parallel: 2, batch_parallel: 2 },
        { id: "parked", provider: "mock", batch_parallel: 0 },
      ],
      batches: { poll_interval_ms: 20, lease_ms: 2000 },
    },
    { clock },
  );
  client = server.client();
});

afterAll(() => server.stop());

describe("message batches on the mock", () => {
  it("runs hundreds of requests to the end: mixed succeeded and errored, each custom_id once", async () => {
    const requests = Array.from({ length: 300 }, (_, i) => ({
      custom_id: `req-${i}`,
      params: ask(i % 10 === 3 ? "[[error:400]] no" : i % 10 === 7 ? "[[error:500]] boom" : `echo ${i}`),
    }));
    const before = await scrape(server.url);
    const created = await client.messages.batches.create({ requests });
    expect(created).toMatchObject({
      type: "message_batch",
      processing_status: "in_progress",
      request_counts: { processing: 300, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      ended_at: null,
      cancel_initiated_at: null,
      archived_at: null,
      results_url: null,
    });
    expect(created.id).toMatch(/^msgbatch_01[A-Za-z0-9]{22}$/);
    expect(Date.parse(created.expires_at) - Date.parse(created.created_at)).toBe(24 * 3_600_000);

    const ended = await waitForEnd(client, created.id);
    expect(ended.request_counts).toEqual({
      processing: 0,
      succeeded: 240,
      errored: 60,
      canceled: 0,
      expired: 0,
    });
    expect(ended.results_url).toBe(`${server.url}/v1/messages/batches/${created.id}/results`);
    expect(ended.ended_at).not.toBeNull();
    // The operator's view of the same batch: the worker's results and the store's batch counts.
    const after = await scrape(server.url);
    const d = (name: string, labels: Record<string, string>) =>
      after.value(name, labels) - before.value(name, labels);
    expect(d("parley_batch_requests_total", { result: "succeeded" })).toBe(240);
    expect(d("parley_batch_requests_total", { result: "errored" })).toBe(60);
    expect(d("parley_batches", { processing_status: "ended" })).toBe(1);
    expect(after.value("parley_batches", { processing_status: "in_progress" })).toBe(0);
    expect(d("parley_requests_total", { model: "mock", status: "200", error_type: "none" })).toBe(240);
    expect(
      d("parley_requests_total", { model: "mock", status: "400", error_type: "invalid_request_error" }),
    ).toBe(30);
    expect(d("parley_requests_total", { model: "mock", status: "500", error_type: "api_error" })).toBe(30);
    // Batch runs wait for idle slots: counted, but kept out of the latency histograms.
    expect(d("parley_request_duration_seconds_count", { model: "mock", streamed: "false" })).toBe(0);

    const lines = await resultsOf(client, created.id);
    expect(lines.map((l) => l.custom_id).sort()).toEqual(requests.map((r) => r.custom_id).sort());
    const byId = new Map(lines.map((l) => [l.custom_id, l.result]));
    const ok = byId.get("req-5");
    expect(ok?.type).toBe("succeeded");
    if (ok?.type !== "succeeded") throw new Error("unreachable");
    expect(ok.message.content).toEqual([{ type: "text", text: "echo 5", citations: null }]);
    expect(ok.message.usage.service_tier).toBe("batch");
    expect(byId.get("req-3")).toEqual({
      type: "errored",
      error: {
        type: "error",
        error: { type: "invalid_request_error", message: "Mock error 400 requested by [[error:400]]" },
        request_id: expect.stringMatching(/^req_01/),
      },
    });
    expect(byId.get("req-7")).toMatchObject({ type: "errored", error: { error: { type: "api_error" } } });
  });

  it("validates every request at creation, naming requests.N.params.<field>", async () => {
    const bad = async (requests: unknown[]) => {
      const res = await server.post("/v1/messages/batches", { requests });
      return { status: res.status, body: (await res.json()) as { error: { type: string; message: string } } };
    };
    const good = { custom_id: "a", params: ask("hi") };
    const missing = await bad([good, { custom_id: "b", params: { model: "mock", messages: [] } }]);
    expect(missing.status).toBe(400);
    expect(missing.body.error).toEqual({
      type: "invalid_request_error",
      message: "requests.1.params.max_tokens: Field required",
    });
    const dup = await bad([good, { ...good }]);
    expect(dup.body.error.message).toBe("requests.1.custom_id: Duplicate custom_id 'a' in this batch");
    const pattern = await bad([{ custom_id: "has space", params: ask("x") }]);
    expect(pattern.status).toBe(400);
    expect(pattern.body.error.message).toMatch(/^requests\.0\.custom_id: String should match pattern/);
    const stream = await bad([{ custom_id: "s", params: ask("x", { stream: true }) }]);
    expect(stream.body.error.message).toBe("requests.0.params.stream: batch requests cannot stream");
    const model = await bad([good, { custom_id: "m", params: { ...ask("x"), model: "nope" } }]);
    expect(model.status).toBe(404);
    expect(model.body.error).toEqual({ type: "not_found_error", message: "requests.1.params.model: nope" });
    const empty = await bad([]);
    expect(empty.body.error.message).toBe("requests: List should have at least 1 item");
  });

  it("cancel mid-run: requests not finished are canceled, the batch ends", async () => {
    const requests = Array.from({ length: 40 }, (_, i) => ({
      custom_id: `c${i}`,
      params: { ...ask(`[[delay:30]] slow reply number ${i}`), model: "slow" },
    }));
    const created = await client.messages.batches.create({ requests });
    await new Promise((r) => setTimeout(r, 400));
    const canceling = await client.messages.batches.cancel(created.id);
    expect(["canceling", "ended"]).toContain(canceling.processing_status);
    expect(canceling.cancel_initiated_at).not.toBeNull();
    const ended = await waitForEnd(client, created.id);
    const counts = ended.request_counts;
    expect(counts.canceled).toBeGreaterThan(0);
    expect(counts.succeeded).toBeGreaterThan(0);
    expect(counts.succeeded + counts.canceled).toBe(40);
    const lines = await resultsOf(client, created.id);
    expect(lines).toHaveLength(40);
    expect(new Set(lines.map((l) => l.result.type))).toEqual(new Set(["succeeded", "canceled"]));
  });

  it("delete only once ended; then it is gone", async () => {
    const created = await client.messages.batches.create({
      requests: [{ custom_id: "p", params: { ...ask("parked"), model: "parked" } }],
    });
    await expect(client.messages.batches.delete(created.id)).rejects.toMatchObject({
      status: 400,
      error: { error: { type: "invalid_request_error" } },
    });
    await client.messages.batches.cancel(created.id);
    const ended = await waitForEnd(client, created.id);
    expect(ended.request_counts.canceled).toBe(1);
    expect(await client.messages.batches.delete(created.id)).toMatchObject({
      id: created.id,
      type: "message_batch_deleted",
    });
    await expect(client.messages.batches.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
  });

  it("expires unfinished requests after 24 h and archives results after 29 days (moved clock)", async () => {
    const worker = server.deps.batches?.worker;
    if (!worker) throw new Error("no batch worker");
    const created = await client.messages.batches.create({
      requests: [
        { custom_id: "x1", params: { ...ask("never runs"), model: "parked" } },
        { custom_id: "x2", params: { ...ask("never runs"), model: "parked" } },
      ],
    });
    clock.advance(24 * 3_600_000 - 1000);
    await worker.sweep();
    expect((await client.messages.batches.retrieve(created.id)).processing_status).toBe("in_progress");
    clock.advance(2000);
    await worker.sweep();
    const ended = await client.messages.batches.retrieve(created.id);
    expect(ended.processing_status).toBe("ended");
    expect(ended.request_counts).toMatchObject({ processing: 0, expired: 2 });
    const lines = await resultsOf(client, created.id);
    expect(lines).toEqual([
      { custom_id: "x1", result: { type: "expired" } },
      { custom_id: "x2", result: { type: "expired" } },
    ]);

    clock.advance(29 * 86_400_000 - 5000);
    await worker.sweep();
    expect((await client.messages.batches.retrieve(created.id)).archived_at).toBeNull();
    clock.advance(10_000);
    await worker.sweep();
    const archived = await client.messages.batches.retrieve(created.id);
    expect(archived.archived_at).toBe(new Date(clock.now()).toISOString());
    expect(archived.results_url).toBeNull();
    const res = await fetch(`${server.url}/v1/messages/batches/${created.id}/results`, {
      headers: { "x-api-key": TEST_KEY },
    });
    expect(res.status).toBe(404);
  });

  it("lists newest first with cursors, scoped to the key's workspace", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      const b = await client.messages.batches.create({
        requests: [{ custom_id: `l${i}`, params: ask(`list ${i}`) }],
      });
      ids.push(b.id);
    }
    const page = await client.messages.batches.list({ limit: 2 });
    expect(page.data.map((b) => b.id)).toEqual([ids[2], ids[1]]);
    expect(page.has_more).toBe(true);
    const next = await client.messages.batches.list({ limit: 2, after_id: ids[1] });
    expect(next.data[0].id).toBe(ids[0]);
    const back = await client.messages.batches.list({ limit: 1, before_id: ids[1] });
    expect(back.data.map((b) => b.id)).toEqual([ids[2]]);

    const other = server.client({ apiKey: OTHER_KEY });
    expect((await other.messages.batches.list()).data).toEqual([]);
    await expect(other.messages.batches.retrieve(ids[0])).rejects.toMatchObject({ status: 404 });
    await expect(other.messages.batches.cancel(ids[0])).rejects.toMatchObject({ status: 404 });
  });

  it("a spent monthly budget makes the remaining requests errored with the budget's 429 envelope", async () => {
    const budget = server.client({ apiKey: BUDGET_KEY });
    const requests = Array.from({ length: 12 }, (_, i) => ({
      custom_id: `b${i}`,
      params: ask(`spend some tokens on request number ${i} please`),
    }));
    const created = await budget.messages.batches.create({ requests });
    const ended = await waitForEnd(budget, created.id);
    expect(ended.request_counts.succeeded).toBeGreaterThan(0);
    expect(ended.request_counts.errored).toBeGreaterThan(0);
    expect(ended.request_counts.succeeded + ended.request_counts.errored).toBe(12);
    const errored = (await resultsOf(budget, created.id)).find((l) => l.result.type === "errored");
    expect(errored?.result).toMatchObject({
      type: "errored",
      error: {
        type: "error",
        error: { type: "rate_limit_error", message: expect.stringMatching(/monthly budget/) },
      },
    });
  });

  it("records batch usage with the batch id and service tier; the report groups by service_tier", async () => {
    await client.messages.create(ask("interactive one"));
    await server.deps.recorder.flush?.();
    const url = new URL(`${server.url}/v1/organizations/usage_report/messages`);
    url.searchParams.set(
      "starting_at",
      new Date(Date.now() - 86_400_000).toISOString().replace(/\.\d+Z$/, "Z"),
    );
    url.searchParams.append("group_by[]", "service_tier");
    const res = await fetch(url, { headers: { "x-api-key": ADMIN_KEY } });
    expect(res.status).toBe(200);
    const report = (await res.json()) as {
      data: { results: { service_tier: string; output_tokens: number }[] }[];
    };
    const tiers = new Set(report.data.flatMap((b) => b.results.map((r) => r.service_tier)));
    expect(tiers).toEqual(new Set(["batch", "standard"]));

    const created = await client.messages.batches.create({
      requests: [0, 1, 2].map((i) => ({ custom_id: `u${i}`, params: ask(`usage ${i}`) })),
    });
    await waitForEnd(client, created.id);
    await server.deps.recorder.flush?.();
    const db = new SQLite(server.deps.config.storage.replace(/^sqlite:/, ""), { readonly: true });
    const rows = db
      .prepare("select service_tier, status, output_tokens from usage where batch_id = ?")
      .all(created.id) as { service_tier: string; status: number; output_tokens: number }[];
    db.close();
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.service_tier === "batch" && r.status === 200 && r.output_tokens > 0)).toBe(
      true,
    );
  });

  it("the models list says batches are supported", async () => {
    const models = await client.models.list();
    for (const m of models.data) {
      expect(
        (m as unknown as { capabilities: { batch: { supported: boolean } } }).capabilities.batch,
      ).toEqual({
        supported: true,
      });
    }
  });
});

describe("batches and interactive load", () => {
  it("interactive requests preempt batch work and the preempted requests still end exactly once", async () => {
    const requests = Array.from({ length: 30 }, (_, i) => ({
      custom_id: `q${i}`,
      params: { ...ask(`[[delay:20]] batch work ${i} with several words`), model: "slow" },
    }));
    const created = await client.messages.batches.create({ requests });
    await new Promise((r) => setTimeout(r, 150));
    const worker = server.deps.batches?.worker;
    const before = worker?.preemptions ?? 0;
    const replies = await Promise.all(
      [0, 1].map((i) => client.messages.create({ ...ask(`interactive ${i}`), model: "slow" })),
    );
    expect(replies.map((r) => r.content[0])).toEqual([
      { type: "text", text: "interactive 0", citations: null },
      { type: "text", text: "interactive 1", citations: null },
    ]);
    // Both slots were held by batch work: an interactive request took one from it at once.
    expect((worker?.preemptions ?? 0) - before).toBeGreaterThanOrEqual(1);
    const ended = await waitForEnd(client, created.id);
    expect(ended.request_counts.succeeded).toBe(30);
    const lines = await resultsOf(client, created.id);
    expect(new Set(lines.map((l) => l.custom_id)).size).toBe(30);
  });
});

describe("SDK fit", () => {
  it("@anthropic-ai/sdk 0.x creates a batch and iterates its results", async () => {
    const v0 = new AnthropicV0({ apiKey: TEST_KEY, baseURL: server.url, maxRetries: 0 });
    const created = await v0.messages.batches.create({
      requests: [
        { custom_id: "zero-a", params: ask("from the 0.x SDK") },
        { custom_id: "zero-b", params: ask("[[error:400]] refused") },
      ],
    });
    expect(created.processing_status).toBe("in_progress");
    let batch = created;
    for (let i = 0; i < 400 && batch.processing_status !== "ended"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      batch = await v0.messages.batches.retrieve(created.id);
    }
    expect(batch.request_counts).toMatchObject({ succeeded: 1, errored: 1 });
    const types: Record<string, string> = {};
    for await (const line of await v0.messages.batches.results(created.id))
      types[line.custom_id] = line.result.type;
    expect(types).toEqual({ "zero-a": "succeeded", "zero-b": "errored" });
  });

  it("batches.create and results work through the SDK with Bearer auth and the new API version", async () => {
    const bearer = new Anthropic({ authToken: TEST_KEY, apiKey: null, baseURL: server.url, maxRetries: 0 });
    const created = await bearer.messages.batches.create(
      { requests: [{ custom_id: "v", params: ask("new version") }] },
      { headers: { "anthropic-version": "2026-10-21" } },
    );
    await waitForEnd(bearer, created.id);
    const [line] = await resultsOf(bearer, created.id);
    expect(line.result.type).toBe("succeeded");
  });
});
