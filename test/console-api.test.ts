import { readdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLimiter, type Limiter } from "../src/limits/index.ts";
import { adminRoutes } from "../src/server/admin/index.ts";
import { CONSOLE_CSP, CONSOLE_DIST } from "../src/server/console/index.ts";
import { Store } from "../src/store/index.ts";
import { databaseKinds, openTestDatabase, type TestDatabase } from "./helpers/databases.ts";
import { startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

const ADMIN_KEY = "sk-admin-console-0001";
type RequestRow = Record<string, unknown> & { request_id: string };
type RequestPage = { data: RequestRow[]; has_more: boolean; first_id: string | null; last_id: string | null };

describe.each(databaseKinds)("console admin endpoints on %s", (kind) => {
  let tdb: TestDatabase;
  let store: Store;
  let limiter: Limiter;
  let server: TestServer;

  beforeAll(async () => {
    tdb = await openTestDatabase(kind);
    store = await Store.open(tdb.url, {
      configKeys: [{ key: TEST_KEY, name: "test" }],
      usage: { flushIntervalMs: 50 },
    });
    limiter = await createLimiter("memory", {});
    server = await startTestServer(
      {
        admin_keys: [ADMIN_KEY],
        models: [
          { id: "mock", provider: "mock", aliases: ["m"], parallel: 1, max_queue: 4, context_window: 8192 },
          {
            id: "far",
            provider: "openai",
            base_url: "http://127.0.0.1:9/v1",
            upstream_model: "x",
            health_check_ms: 0,
          },
        ],
      },
      {
        keyStore: store.keyStore,
        limiter,
        recorder: store.recorder,
        plugins: [adminRoutes({ store, adminKeys: [ADMIN_KEY], keyStore: store.keyStore })],
      },
    );
  });
  afterAll(async () => {
    await server.stop();
    await store.close();
    await tdb.drop();
  });

  const get = (path: string, key = ADMIN_KEY) => fetch(server.url + path, { headers: { "x-api-key": key } });
  const json = async (path: string) => {
    const res = await get(path);
    expect([path, res.status]).toEqual([path, 200]);
    return res.json() as Promise<Record<string, unknown>>;
  };

  it("admin key required: 401 without one, 403 for an ordinary key, Anthropic-shaped", async () => {
    for (const path of ["/v1/parley/models", "/v1/parley/requests"]) {
      const none = await fetch(server.url + path);
      expect(none.status).toBe(401);
      const body = (await none.json()) as Record<string, unknown>;
      expect(body).toEqual({
        type: "error",
        error: { type: "authentication_error", message: "x-api-key header is required" },
        request_id: none.headers.get("request-id"),
      });
      const ordinary = await get(path, TEST_KEY);
      expect(ordinary.status).toBe(403);
      expect(((await ordinary.json()) as { error: { type: string } }).error.type).toBe("permission_error");
    }
  });

  it("GET /v1/parley/models: provider, state, window, slots and upstream health", async () => {
    expect(await json("/v1/parley/models")).toEqual({
      data: [
        {
          id: "mock",
          aliases: ["m"],
          provider: "mock",
          available: true,
          context_window: 8192,
          slots: { busy: 0, total: 1, queued: 0, max_queue: 4 },
        },
        {
          id: "far",
          aliases: [],
          provider: "openai",
          available: true,
          context_window: null,
          slots: { busy: 0, total: null, queued: 0, max_queue: 256 },
          upstreams: [
            {
              url: "http://127.0.0.1:9/v1",
              healthy: true,
              breaker: "closed",
              in_flight: 0,
              retry_in_ms: 0,
              retries: 0,
              failovers: 0,
            },
          ],
        },
      ],
    });
  });

  it("shows a busy slot and a queued request while they run", async () => {
    const slow = {
      model: "mock",
      max_tokens: 5,
      messages: [{ role: "user", content: "one two [[delay:150]]" }],
    };
    const running = [server.post("/v1/messages", slow), server.post("/v1/messages", slow)];
    let seen: unknown;
    for (let i = 0; i < 100 && !seen; i++) {
      const { data } = (await json("/v1/parley/models")) as {
        data: { slots: { busy: number; queued: number } }[];
      };
      if (data[0].slots.queued === 1) seen = data[0].slots;
      else await new Promise((r) => setTimeout(r, 10));
    }
    expect(seen).toEqual({ busy: 1, total: 1, queued: 1, max_queue: 4 });
    for (const res of await Promise.all(running)) expect(res.status).toBe(200);
  });

  it("GET /v1/parley/requests: newest first with key names, filters and cursor pages", async () => {
    const created = (await (
      await fetch(`${server.url}/v1/organizations/api_keys`, {
        method: "POST",
        headers: { "x-api-key": ADMIN_KEY, "content-type": "application/json" },
        body: JSON.stringify({ name: "logged" }),
      })
    ).json()) as { id: string; key: string };
    const client = server.client({ apiKey: created.key });
    const ok1 = await client.messages.create({
      model: "m",
      max_tokens: 10,
      messages: [{ role: "user", content: "a b c" }],
    });
    await new Promise((r) => setTimeout(r, 5));
    const failed = await server.post(
      "/v1/messages",
      { model: "mock", max_tokens: 10, messages: [{ role: "user", content: "x [[error:529]]" }] },
      { "x-api-key": created.key },
    );
    expect(failed.status).toBe(529);
    const failedId = failed.headers.get("request-id");
    await new Promise((r) => setTimeout(r, 5));
    const ok2 = await client.messages
      .stream({ model: "mock", max_tokens: 10, messages: [{ role: "user", content: "d e" }] })
      .withResponse();
    const ok2Id = ok2.request_id;
    const ok2Message = await ok2.data.finalMessage();
    await store.recorder.flush();

    const page = (await json(`/v1/parley/requests?api_key_id=${created.id}`)) as RequestPage;
    expect(page.data.map((r) => r.request_id)).toEqual([ok2Id, failedId, ok1._request_id]);
    expect(page).toMatchObject({ has_more: false, first_id: ok2Id, last_id: ok1._request_id });
    const newest = page.data[0];
    expect(Object.keys(newest).sort()).toEqual(
      [
        "api_key",
        "error_type",
        "latency_ms",
        "model",
        "request_id",
        "service_tier",
        "started_at",
        "status",
        "streamed",
        "ttft_ms",
        "type",
        "usage",
        "workspace_id",
      ].sort(),
    );
    expect(newest).toMatchObject({
      type: "request",
      api_key: { id: created.id, name: "logged" },
      workspace_id: null,
      model: "mock",
      status: 200,
      error_type: null,
      streamed: true,
      service_tier: "standard",
      usage: {
        input_tokens: ok2Message.usage.input_tokens,
        output_tokens: ok2Message.usage.output_tokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    });
    expect(newest.started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(newest.latency_ms).toBeTypeOf("number");
    expect(newest.ttft_ms).toBeTypeOf("number");
    expect(page.data[1]).toMatchObject({ status: 529, error_type: "overloaded_error", ttft_ms: null });
    expect(page.data[2]).toMatchObject({ model: "mock", streamed: false });

    const errors = (await json(`/v1/parley/requests?api_key_id=${created.id}&status=error`)) as RequestPage;
    expect(errors.data.map((r) => r.request_id)).toEqual([failedId]);
    const by529 = (await json(`/v1/parley/requests?api_key_id=${created.id}&status=529`)) as RequestPage;
    expect(by529.data.map((r) => r.request_id)).toEqual([failedId]);
    const good = (await json(`/v1/parley/requests?api_key_id=${created.id}&status=success`)) as RequestPage;
    expect(good.data.map((r) => r.request_id)).toEqual([ok2Id, ok1._request_id]);
    const none = (await json("/v1/parley/requests?model=far")) as RequestPage;
    expect(none).toEqual({ data: [], has_more: false, first_id: null, last_id: null });

    const first = (await json(`/v1/parley/requests?api_key_id=${created.id}&limit=2`)) as RequestPage;
    expect(first).toMatchObject({ has_more: true, first_id: ok2Id, last_id: failedId });
    const older = (await json(
      `/v1/parley/requests?api_key_id=${created.id}&limit=2&after_id=${first.last_id}`,
    )) as RequestPage;
    expect(older.data.map((r) => r.request_id)).toEqual([ok1._request_id]);
    expect(older.has_more).toBe(false);
    const newer = (await json(
      `/v1/parley/requests?api_key_id=${created.id}&limit=1&before_id=${ok1._request_id}`,
    )) as RequestPage;
    expect(newer).toMatchObject({ has_more: true, first_id: failedId, last_id: failedId });

    // The usage report counts requests too (Parley's `request_count`).
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const report = (await json(
      `/v1/organizations/usage_report/messages?starting_at=${since}&bucket_width=1h&api_key_ids[]=${created.id}`,
    )) as { data: { results: { request_count: number }[] }[] };
    expect(report.data.flatMap((b) => b.results).reduce((n, r) => n + r.request_count, 0)).toBe(3);
  });

  it("rejects bad request-log queries with 400 invalid_request_error", async () => {
    for (const [path, message] of [
      ["/v1/parley/requests?after_id=req_nope", /after_id: no recorded request with id 'req_nope'/],
      ["/v1/parley/requests?status=ok", /status/],
      ["/v1/parley/requests?status=99", /status/],
      ["/v1/parley/requests?limit=0", /limit/],
      ["/v1/parley/requests?limit=1001", /limit/],
      ["/v1/parley/requests?after_id=a&before_id=b", /cannot both/],
    ] as const) {
      const res = await get(path);
      const body = (await res.json()) as { type: string; error: { type: string; message: string } };
      expect([path, res.status, body.type, body.error.type]).toEqual([
        path,
        400,
        "error",
        "invalid_request_error",
      ]);
      expect(body.error.message).toMatch(message);
    }
  });
});

describe("console page", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it("serves /console and /console/ without a key, with a self-only CSP and no caching of the page", async () => {
    for (const path of ["/console", "/console/"]) {
      const res = await fetch(server.url + path);
      expect([path, res.status]).toEqual([path, 200]);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      expect(res.headers.get("content-security-policy")).toBe(CONSOLE_CSP);
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      const html = await res.text();
      expect(html).toContain('<div id="app"></div>');
      expect(html).not.toMatch(/<script>(?!<\/script>)|style=/);
    }
    expect(CONSOLE_CSP).toMatch(/default-src 'self'/);
    expect(CONSOLE_CSP).not.toMatch(/unsafe/);
  });

  it("serves hashed assets with a long cache; unknown paths are Anthropic-shaped 404s", async () => {
    const assets = await readdir(`${CONSOLE_DIST}assets`);
    const js = assets.find((f) => f.endsWith(".js"));
    expect(js).toMatch(/-[A-Za-z0-9_-]{8}\.js$/);
    const res = await fetch(`${server.url}/console/assets/${js}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/javascript/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const missing = await fetch(`${server.url}/console/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { type: string } }).error.type).toBe("not_found_error");
  });
});
