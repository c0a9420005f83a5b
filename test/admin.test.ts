import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLimiter, type Limiter } from "../src/limits/index.ts";
import { adminRoutes } from "../src/server/admin/index.ts";
import { Store } from "../src/store/index.ts";
import { databaseKinds, openTestDatabase, type TestDatabase } from "./helpers/databases.ts";
import { startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

type ErrorBody = { type: string; error: { type: string; message: string } };
type KeyList = { data: { status: string; scope: object }[] };

const ADMIN_KEY = "sk-admin-test-0001";
const hello = {
  model: "mock",
  max_tokens: 20,
  messages: [{ role: "user" as const, content: "hello there" }],
};

describe.each(databaseKinds)("admin API on %s", (kind) => {
  let tdb: TestDatabase;
  let store: Store;
  let limiter: Limiter;
  let server: TestServer;
  let admin: Anthropic;

  beforeAll(async () => {
    tdb = await openTestDatabase(kind);
    store = await Store.open(tdb.url, {
      configKeys: [{ key: TEST_KEY, name: "test" }],
      usage: { flushIntervalMs: 50 },
    });
    limiter = await createLimiter("memory", { monthlyUsage: (s) => store.tokensThisMonth(s) });
    server = await startTestServer(
      { admin_keys: [ADMIN_KEY] },
      {
        keyStore: store.keyStore,
        limiter,
        recorder: store.recorder,
        plugins: [adminRoutes({ store, adminKeys: [ADMIN_KEY], keyStore: store.keyStore })],
      },
    );
    admin = server.client({ apiKey: ADMIN_KEY });
  });
  afterAll(async () => {
    await server.stop();
    await store.close();
    await tdb.drop();
  });

  const call = (method: string, path: string, body?: unknown, key = ADMIN_KEY) =>
    fetch(server.url + path, {
      method,
      headers: {
        "x-api-key": key,
        "anthropic-version": "2023-06-01",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  async function createKey(body: object): Promise<{ id: string; key: string } & Record<string, unknown>> {
    const res = await call("POST", "/v1/organizations/api_keys", body);
    expect(res.status).toBe(200);
    return (await res.json()) as { id: string; key: string };
  }

  it("refuses requests without an admin key: 401, or 403 for an ordinary key", async () => {
    const none = await fetch(`${server.url}/v1/organizations/api_keys`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({
      type: "error",
      error: { type: "authentication_error", message: "x-api-key header is required" },
    });
    const wrong = await call("GET", "/v1/organizations/api_keys", undefined, "sk-not-a-key-at-all");
    expect(wrong.status).toBe(401);
    const ordinary = await call("GET", "/v1/organizations/api_keys", undefined, TEST_KEY);
    expect(ordinary.status).toBe(403);
    expect(((await ordinary.json()) as ErrorBody).error.type).toBe("permission_error");
    // The admin key is not an API key for the Messages API.
    await expect(server.client({ apiKey: ADMIN_KEY }).messages.create(hello)).rejects.toMatchObject({
      status: 401,
    });
  });

  it("creates a key shown once, which then works for messages; the SDK reads it back", async () => {
    const created = await createKey({ name: "ci key", models: ["mock"], limits: { rpm: 50 } });
    expect(created).toMatchObject({
      type: "api_key",
      name: "ci key",
      status: "active",
      workspace_id: null,
      scope: { type: "organization" },
      expires_at: null,
      models: ["mock"],
      limits: { rpm: 50 },
      created_by: { type: "user" },
    });
    expect(created.key).toMatch(/^sk-parley-/);
    expect(created.partial_key_hint).toBe(`${created.key.slice(0, 7)}...${created.key.slice(-4)}`);
    const fetched = await admin.beta.organization.apiKeys.retrieve(created.id);
    expect(fetched).toEqual(Object.fromEntries(Object.entries(created).filter(([k]) => k !== "key")));
    expect(JSON.stringify(fetched)).not.toContain(created.key);

    const user = server.client({ apiKey: created.key });
    const msg = await user.messages.create(hello).withResponse();
    expect(msg.response.headers.get("anthropic-ratelimit-requests-limit")).toBe("50");
    expect(msg.response.headers.get("anthropic-ratelimit-requests-remaining")).toBe("49");
  });

  it("renames, deactivates, reactivates and archives a key through the SDK; archived is final", async () => {
    const created = await createKey({ name: "temp" });
    const user = server.client({ apiKey: created.key });
    await user.messages.create(hello);
    const renamed = await admin.beta.organization.apiKeys.update(created.id, { name: "renamed" });
    expect(renamed).toMatchObject({ id: created.id, name: "renamed", status: "active" });
    await admin.beta.organization.apiKeys.update(created.id, { status: "inactive" });
    await expect(user.messages.create(hello)).rejects.toMatchObject({ status: 401 });
    await admin.beta.organization.apiKeys.update(created.id, { status: "active" });
    await user.messages.create(hello);
    await admin.beta.organization.apiKeys.update(created.id, { status: "archived" });
    await expect(user.messages.create(hello)).rejects.toMatchObject({ status: 401 });
    const again = await call("POST", `/v1/organizations/api_keys/${created.id}`, { status: "active" });
    expect(again.status).toBe(400);
    expect(((await again.json()) as ErrorBody).error.message).toBe(
      "An archived API key cannot be reactivated.",
    );
  });

  it("lists keys newest first, filters them, and pages through the SDK", async () => {
    const ws = await admin.beta.organization.workspaces.create({ name: "paging" });
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await createKey({ name: `p${i}`, workspace_id: ws.id })).id);
    const page = await admin.beta.organization.apiKeys.list({ workspace_id: ws.id, limit: 2 });
    expect(page.data).toHaveLength(2);
    expect(page.has_more).toBe(true);
    const all: string[] = [];
    for await (const k of admin.beta.organization.apiKeys.list({ workspace_id: ws.id, limit: 2 }))
      all.push(k.id);
    expect(all.sort()).toEqual([...made].sort());
    const raw = (await (
      await call("GET", `/v1/organizations/api_keys?workspace_id=${ws.id}&limit=1`)
    ).json()) as KeyList;
    expect(Object.keys(raw).sort()).toEqual(["data", "first_id", "has_more", "last_id"]);
    expect(raw.data[0].scope).toEqual({ type: "workspace", workspace_id: ws.id });
    const archived = (await (
      await call("GET", "/v1/organizations/api_keys?status=archived")
    ).json()) as KeyList;
    expect(archived.data.length).toBeGreaterThan(0);
    expect(archived.data.every((k) => k.status === "archived")).toBe(true);
  });

  it("creates, lists, renames and archives workspaces shaped like the hosted ones", async () => {
    const ws = await admin.beta.organization.workspaces.create({ name: "Team A" });
    expect(ws).toMatchObject({ type: "workspace", name: "Team A", archived_at: null });
    expect(ws.id).toMatch(/^wrkspc_01/);
    expect(ws.display_color).toMatch(/^#[0-9A-F]{6}$/);
    expect(Date.parse(ws.created_at)).toBeGreaterThan(0);
    const updated = await admin.beta.organization.workspaces.update(ws.id, { name: "Team B" });
    expect(updated.name).toBe("Team B");
    const key = await createKey({ name: "in team", workspace_id: ws.id });
    const archived = await admin.beta.organization.workspaces.archive(ws.id);
    expect(Date.parse(archived.archived_at ?? "")).toBeGreaterThan(0);
    expect((await admin.beta.organization.apiKeys.retrieve(key.id)).status).toBe("archived");
    const listed = await admin.beta.organization.workspaces.list({ limit: 1000 });
    expect(listed.data.map((w) => w.id)).not.toContain(ws.id);
    const withArchived = await admin.beta.organization.workspaces.list({
      include_archived: true,
      limit: 1000,
    });
    expect(withArchived.data.map((w) => w.id)).toContain(ws.id);
  });

  it("shares workspace limits among the workspace's keys", async () => {
    const res = await call("POST", "/v1/organizations/workspaces", { name: "limited", limits: { rpm: 2 } });
    const ws = (await res.json()) as { id: string; limits: object };
    expect(ws.limits).toEqual({ rpm: 2 });
    const a = server.client({ apiKey: (await createKey({ name: "a", workspace_id: ws.id })).key });
    const b = server.client({ apiKey: (await createKey({ name: "b", workspace_id: ws.id })).key });
    await a.messages.create(hello);
    await b.messages.create(hello);
    const err = await a.messages.create(hello).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect((err as InstanceType<typeof Anthropic.RateLimitError>).message).toMatch(
      /workspace's rate limit of 2/,
    );
  });

  it("answers bad admin input with Anthropic-shaped 4xx errors", async () => {
    const cases: [string, string, unknown, number, RegExp][] = [
      ["POST", "/v1/organizations/api_keys", { name: "" }, 400, /name/],
      [
        "POST",
        "/v1/organizations/api_keys",
        { name: "x", colour: "red" },
        400,
        /colour: Extra inputs are not permitted/,
      ],
      ["POST", "/v1/organizations/api_keys", { name: "x", limits: { rpm: 0 } }, 400, /limits\.rpm/],
      ["POST", "/v1/organizations/api_keys", { name: "x", workspace_id: "wrkspc_nope" }, 404, /wrkspc_nope/],
      ["GET", "/v1/organizations/api_keys/apikey_nope", undefined, 404, /apikey_nope/],
      ["POST", "/v1/organizations/api_keys/apikey_nope", { name: "y" }, 404, /apikey_nope/],
      ["GET", "/v1/organizations/api_keys?limit=0", undefined, 400, /limit/],
      ["POST", "/v1/organizations/workspaces", { name: "x".repeat(41) }, 400, /name/],
      ["POST", "/v1/organizations/workspaces/wrkspc_nope/archive", undefined, 404, /wrkspc_nope/],
      ["GET", "/v1/organizations/usage_report/messages", undefined, 400, /starting_at: Field required/],
      ["GET", "/v1/organizations/usage_report/messages?starting_at=yesterday", undefined, 400, /RFC 3339/],
      [
        "GET",
        "/v1/organizations/usage_report/messages?starting_at=2025-01-01T00:00:00Z&bucket_width=1w",
        undefined,
        400,
        /bucket_width/,
      ],
      [
        "GET",
        "/v1/organizations/usage_report/messages?starting_at=2025-01-01T00:00:00Z&limit=32",
        undefined,
        400,
        /31/,
      ],
      [
        "GET",
        "/v1/organizations/usage_report/messages?starting_at=2025-01-01T00:00:00Z&group_by[]=colour",
        undefined,
        400,
        /group_by/,
      ],
      [
        "GET",
        "/v1/organizations/usage_report/messages?starting_at=2025-01-01T00:00:00Z&page=nope",
        undefined,
        400,
        /page/,
      ],
    ];
    for (const [method, path, body, status, message] of cases) {
      const res = await call(method, path, body);
      const json = (await res.json()) as { type: string; error: { type: string; message: string } };
      expect([path, res.status]).toEqual([path, status]);
      expect(json.type).toBe("error");
      expect(json.error.type).toBe(status === 404 ? "not_found_error" : "invalid_request_error");
      expect(json.error.message).toMatch(message);
    }
  });

  it("reports the tokens of real requests by key and model", async () => {
    const created = await createKey({ name: "reported" });
    const user = server.client({ apiKey: created.key });
    const start = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const replies = [
      await user.messages.create(hello),
      await user.messages.create({ ...hello, stream: false }),
    ];
    const stream = await user.messages.stream(hello).finalMessage();
    await store.recorder.flush();
    const url =
      `/v1/organizations/usage_report/messages?starting_at=${start.toISOString()}&bucket_width=1m` +
      `&group_by[]=api_key_id&group_by[]=model&api_key_ids[]=${created.id}`;
    const report = (await (await call("GET", url)).json()) as {
      data: { starting_at: string; ending_at: string; results: Record<string, unknown>[] }[];
      has_more: boolean;
      next_page: string | null;
    };
    expect(report.has_more).toBe(false);
    expect(report.data[0].starting_at).toBe(start.toISOString().replace(".000Z", "Z"));
    const results = report.data.flatMap((b) => b.results);
    const sum = (k: "input_tokens" | "output_tokens") =>
      [...replies, stream].reduce((n, m) => n + m.usage[k], 0);
    expect(results.reduce((n, r) => n + Number(r.uncached_input_tokens), 0)).toBe(sum("input_tokens"));
    expect(results.reduce((n, r) => n + Number(r.output_tokens), 0)).toBe(sum("output_tokens"));
    expect(results[0]).toMatchObject({ api_key_id: created.id, model: "mock", workspace_id: null });
    const rows = await store.db.selectFrom("usage").selectAll().where("key_id", "=", created.id).execute();
    expect(rows.map((r) => r.streamed).sort()).toEqual([0, 0, 1]);
    expect(rows.every((r) => r.status === 200 && r.model === "mock")).toBe(true);
  });
});
