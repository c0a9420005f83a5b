import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashKey } from "../src/auth/index.ts";
import { openDatabase, Store } from "../src/store/index.ts";
import { databaseKinds, openTestDatabase, type TestDatabase } from "./helpers/databases.ts";
import { usageRecord } from "./helpers/usage-record.ts";

if (!databaseKinds.includes("postgres"))
  console.warn("PARLEY_TEST_PG_URL is not set: store tests run on SQLite only");

describe.each(databaseKinds)("store on %s", (kind) => {
  let tdb: TestDatabase;
  let store: Store;

  beforeEach(async () => {
    tdb = await openTestDatabase(kind);
    store = await Store.open(tdb.url, { usage: { flushIntervalMs: 20 } });
  });
  afterEach(async () => {
    try {
      await store?.close();
    } finally {
      await tdb?.drop();
    }
  });

  it("migrates once: a second open applies nothing and keeps the data", async () => {
    const { key } = await store.keys.create({ name: "kept" });
    const again = await openDatabase(tdb.url);
    expect(again.migrated).toEqual([]);
    await again.close();
    expect((await store.keys.get(key.id))?.name).toBe("kept");
  });

  it.skipIf(kind !== "postgres")(
    "keeps to its own schema: another Parley schema migrates independently",
    async () => {
      const other = await openTestDatabase("postgres");
      try {
        const second = await openDatabase(other.url);
        expect(second.migrated).toEqual([
          "0001_keys_workspaces_usage",
          "0002_batches_files",
          "0003_mcp_allowed_hosts",
        ]);
        await second.close();
        const again = await openDatabase(tdb.url);
        expect(again.migrated).toEqual([]);
        await again.close();
      } finally {
        await other.drop();
      }
    },
  );

  it("opens and migrates a fresh database from several instances at once", async () => {
    const fresh = await openTestDatabase(kind);
    try {
      const opened = await Promise.all(
        [1, 2, 3].map(() =>
          Store.open(fresh.url, { configKeys: [{ key: "sk-same-key-1", workspace: "w" }] }),
        ),
      );
      const ids = await Promise.all(
        opened.map(async (s) => (await s.keyStore.authenticate("sk-same-key-1"))?.keyId),
      );
      expect(new Set(ids).size).toBe(1);
      expect(ids[0]).toMatch(/^apikey_01/);
      await Promise.all(opened.map((s) => s.close()));
    } finally {
      await fresh.drop();
    }
  });

  it("stores only a hash and a hint of a created key, and authenticates it", async () => {
    const { key, secret } = await store.keys.create({ name: "ci", models: ["mock*"], limits: { rpm: 5 } });
    expect(secret).toMatch(/^sk-parley-/);
    expect(key.id).toMatch(/^apikey_01[0-9A-Za-z]{22}$/);
    expect(key.hint).toBe(`${secret.slice(0, 7)}...${secret.slice(-4)}`);
    const rows = await store.db.selectFrom("api_keys").selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(rows[0].key_hash).toBe(hashKey(secret).toString("hex"));
    const principal = await store.keyStore.authenticate(secret);
    expect(principal).toEqual({
      keyId: key.id,
      name: "ci",
      workspaceId: undefined,
      models: ["mock*"],
      limits: { rpm: 5 },
      workspaceLimits: undefined,
    });
    expect(await store.keyStore.authenticate(`${secret}x`)).toBeUndefined();
  });

  it("stops authenticating a key as soon as it is revoked through this store", async () => {
    const { key, secret } = await store.keys.create({ name: "short-lived" });
    expect(await store.keyStore.authenticate(secret)).toBeDefined();
    await store.keys.update(key.id, { status: "archived" });
    expect(await store.keyStore.authenticate(secret)).toBeUndefined();
    await store.keys.update(key.id, { status: "active" });
    expect(await store.keyStore.authenticate(secret)).toBeDefined();
  });

  it("sees a revocation made by another store within the cache time", async () => {
    const other = await Store.open(tdb.url, { keyCache: { ttlMs: 200 } });
    try {
      const { key, secret } = await store.keys.create({ name: "shared" });
      expect(await other.keyStore.authenticate(secret)).toBeDefined();
      await store.keys.update(key.id, { status: "inactive" });
      await new Promise((r) => setTimeout(r, 250));
      expect(await other.keyStore.authenticate(secret)).toBeUndefined();
    } finally {
      await other.close();
    }
  });

  it("gives keys their workspace's limits, and archiving a workspace archives its keys", async () => {
    const ws = await store.workspaces.create({ name: "team", limits: { rpm: 100, monthly_tokens: 5000 } });
    expect(ws.id).toMatch(/^wrkspc_01/);
    const { key, secret } = await store.keys.create({ name: "k", workspace_id: ws.id, limits: { tpm: 10 } });
    const p = await store.keyStore.authenticate(secret);
    expect(p?.workspaceId).toBe(ws.id);
    expect(p?.limits).toEqual({ tpm: 10 });
    expect(p?.workspaceLimits).toEqual({ rpm: 100, monthly_tokens: 5000 });
    const archived = await store.workspaces.archive(ws.id);
    expect(archived?.archived_at).toBeInstanceOf(Date);
    expect((await store.keys.get(key.id))?.status).toBe("archived");
    expect(await store.keyStore.authenticate(secret)).toBeUndefined();
  });

  it("upserts config keys by hash, keeps their id, and deactivates config keys removed from the config", async () => {
    await store.keys.upsertConfigKeys([
      { key: "sk-config-one", name: "one", rpm: 3, workspace: "team-a" },
      { key: "sk-config-two", name: "two" },
    ]);
    const one = await store.keyStore.authenticate("sk-config-one");
    expect(one).toMatchObject({ name: "one", limits: { rpm: 3 }, models: ["*"] });
    const ws = await store.workspaces.get(one?.workspaceId ?? "");
    expect(ws?.name).toBe("team-a");
    await store.keys.upsertConfigKeys([
      { key: "sk-config-one", name: "renamed", tpm: 9, workspace: "team-a" },
    ]);
    const again = await store.keyStore.authenticate("sk-config-one");
    expect(again).toMatchObject({
      keyId: one?.keyId,
      name: "renamed",
      limits: { tpm: 9 },
      workspaceId: ws?.id,
    });
    expect(await store.keyStore.authenticate("sk-config-two")).toBeUndefined();
    expect((await store.workspaces.list({})).data).toHaveLength(1);
    // An archived (revoked) key stays revoked even though the config still lists it.
    await store.keys.update(again?.keyId ?? "", { status: "archived" });
    await store.keys.upsertConfigKeys([{ key: "sk-config-one" }]);
    expect(await store.keyStore.authenticate("sk-config-one")).toBeUndefined();
  });

  it("pages keys newest first with after_id and before_id", async () => {
    for (let i = 0; i < 5; i++) await store.keys.create({ name: `k${i}` });
    const all = await store.keys.list({});
    const newest = all.data.map((k) => k.id);
    expect(newest).toHaveLength(5);
    const times = all.data.map((k) => k.created_at.getTime());
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const p1 = await store.keys.list({ limit: 2 });
    expect(p1.data.map((k) => k.id)).toEqual(newest.slice(0, 2));
    expect(p1).toMatchObject({ has_more: true, first_id: newest[0], last_id: newest[1] });
    const p2 = await store.keys.list({ limit: 2, after_id: p1.last_id ?? "" });
    expect(p2.data.map((k) => k.id)).toEqual(newest.slice(2, 4));
    const p3 = await store.keys.list({ limit: 2, after_id: p2.last_id ?? "" });
    expect(p3.data.map((k) => k.id)).toEqual(newest.slice(4));
    expect(p3.has_more).toBe(false);
    const back = await store.keys.list({ limit: 2, before_id: p3.first_id ?? "" });
    expect(back.data.map((k) => k.id)).toEqual(newest.slice(2, 4));
    expect(back.has_more).toBe(true);
  });

  it("writes usage in batches, idempotently, and flushes on close", async () => {
    const r = usageRecord();
    store.recorder.record(r);
    store.recorder.record(r);
    expect(store.recorder.pending).toBe(2);
    await store.recorder.flush();
    expect(store.recorder.pending).toBe(0);
    const rows = await store.db.selectFrom("usage").selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(Number(rows[0].started_at)).toBe(r.started_at.getTime());
    for (let i = 0; i < 1200; i++) store.recorder.record(usageRecord());
    const other = await Store.open(tdb.url);
    await store.close();
    const count = await other.db
      .selectFrom("usage")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1201);
    await store.close(); // a second close is harmless
    store = other;
  });

  it("writes every field of a usage row as recorded, quotes, escapes and non-ASCII included", async () => {
    const odd = usageRecord({
      key_id: 'apikey_"quoted"\\back',
      workspace_id: "wrkspc_é世界🎉",
      model: "model\nwith\ttabs </script>",
      input_tokens: 2 ** 40,
      output_tokens: 0,
      cache_creation_input_tokens: 7,
      cache_read_input_tokens: 8,
      status: 529,
      error_type: "overloaded_error",
      streamed: true,
      latency_ms: 0,
      ttft_ms: null,
      started_at: new Date(Date.UTC(2099, 11, 31, 23, 59, 59, 999)),
      batch_id: "msgbatch_\u2028x",
      service_tier: "batch",
    });
    store.recorder.record(odd);
    store.recorder.record(usageRecord({ model: "plain" }));
    await store.recorder.flush();
    const row = await store.db
      .selectFrom("usage")
      .selectAll()
      .where("request_id", "=", odd.request_id)
      .executeTakeFirstOrThrow();
    expect({
      ...row,
      input_tokens: Number(row.input_tokens),
      output_tokens: Number(row.output_tokens),
      cache_creation_input_tokens: Number(row.cache_creation_input_tokens),
      cache_read_input_tokens: Number(row.cache_read_input_tokens),
      status: Number(row.status),
      streamed: Boolean(row.streamed),
      latency_ms: Number(row.latency_ms),
      started_at: Number(row.started_at),
    }).toMatchObject({ ...odd, started_at: odd.started_at.getTime() });
  });

  it("writes a large batch in multi-row chunks, skipping request ids already written or repeated in it", async () => {
    const written = usageRecord();
    store.recorder.record(written);
    await store.recorder.flush();
    // 70 rows: two chunks of 32 and 6 single rows on SQLite's writer thread. A repeat of a row
    // already written and one repeated inside the batch, both with other figures, are skipped.
    const batch = Array.from({ length: 68 }, (_, i) => usageRecord({ input_tokens: i }));
    batch.splice(5, 0, { ...written, input_tokens: 999 });
    batch.splice(40, 0, { ...batch[20], input_tokens: 998 });
    for (const r of batch) store.recorder.record(r);
    await store.recorder.flush();
    const rows = await store.db.selectFrom("usage").select(["request_id", "input_tokens"]).execute();
    expect(rows).toHaveLength(69);
    const byId = new Map(rows.map((r) => [r.request_id, Number(r.input_tokens)]));
    expect(byId.get(written.request_id)).toBe(10);
    expect(byId.get(batch[20].request_id)).toBe(batch[20].input_tokens);
    expect([...byId.values()].filter((n) => n >= 998)).toEqual([]);
  });

  it("reports usage in UTC buckets, grouped and filtered like the hosted report", async () => {
    const day = Date.UTC(2025, 5, 10);
    const at = (h: number, m = 0) => new Date(day + h * 3_600_000 + m * 60_000);
    store.recorder.record(
      usageRecord({ key_id: "k1", model: "a", started_at: at(1), input_tokens: 100, output_tokens: 10 }),
    );
    store.recorder.record(
      usageRecord({ key_id: "k1", model: "b", started_at: at(1, 30), input_tokens: 7, output_tokens: 1 }),
    );
    store.recorder.record(
      usageRecord({
        key_id: "k2",
        workspace_id: "w",
        model: "a",
        started_at: at(3),
        cache_read_input_tokens: 4,
      }),
    );
    store.recorder.record(usageRecord({ key_id: "k2", model: "a", started_at: at(30) }));
    await store.recorder.flush();
    const base = {
      group_by: [],
      api_key_ids: [],
      workspace_ids: [],
      models: [],
      now: new Date(day + 5 * 86_400_000),
    };

    const hourly = await store.report({
      ...base,
      starting_at: at(0, 20),
      ending_at: at(4),
      bucket_width: "1h",
    });
    expect(hourly.data.map((b) => b.starting_at)).toEqual([
      "2025-06-10T00:00:00Z",
      "2025-06-10T01:00:00Z",
      "2025-06-10T02:00:00Z",
      "2025-06-10T03:00:00Z",
    ]);
    expect(hourly.data[0].results).toEqual([]);
    expect(hourly.data[1]).toEqual({
      starting_at: "2025-06-10T01:00:00Z",
      ending_at: "2025-06-10T02:00:00Z",
      results: [
        {
          uncached_input_tokens: 107,
          cache_creation: { ephemeral_1h_input_tokens: 0, ephemeral_5m_input_tokens: 0 },
          cache_read_input_tokens: 0,
          output_tokens: 11,
          server_tool_use: { web_search_requests: 0 },
          api_key_id: null,
          workspace_id: null,
          model: null,
          service_tier: null,
          context_window: null,
          inference_geo: null,
          request_count: 2,
        },
      ],
    });
    expect(hourly.has_more).toBe(false);

    const grouped = await store.report({
      ...base,
      starting_at: at(0),
      bucket_width: "1d",
      group_by: ["api_key_id", "model"],
      limit: 1,
    });
    expect(grouped.data).toHaveLength(1);
    expect(grouped.data[0].results.map((r) => [r.api_key_id, r.model, r.uncached_input_tokens])).toEqual([
      ["k1", "a", 100],
      ["k1", "b", 7],
      ["k2", "a", 10],
    ]);
    expect(grouped.has_more).toBe(true);
    expect(grouped.next_page).toMatch(/^page_/);

    const filtered = await store.report({
      ...base,
      starting_at: at(0),
      ending_at: at(48),
      bucket_width: "1d",
      workspace_ids: ["w"],
      group_by: ["workspace_id", "service_tier", "context_window"],
    });
    expect(filtered.data.map((b) => b.results.length)).toEqual([1, 0]);
    expect(filtered.data[0].results[0]).toMatchObject({
      workspace_id: "w",
      service_tier: "standard",
      context_window: "0-200k",
      cache_read_input_tokens: 4,
    });
  });

  it("sums this month's tokens for budgets", async () => {
    const now = new Date(Date.UTC(2025, 6, 15));
    store.recorder.record(
      usageRecord({ key_id: "k", started_at: new Date(Date.UTC(2025, 6, 1)), input_tokens: 3 }),
    );
    store.recorder.record(
      usageRecord({ key_id: "k", started_at: new Date(Date.UTC(2025, 5, 30)), input_tokens: 50 }),
    );
    await store.recorder.flush();
    expect(await store.tokensThisMonth({ kind: "key", id: "k" }, now)).toBe(8);
    expect(await store.tokensThisMonth({ kind: "workspace", id: "none" }, now)).toBe(0);
  });
});
