import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConfigFile } from "../src/config/index.ts";
import { openTestDatabase, PG_URL, REDIS_URL, redisPrefix, type TestDatabase } from "./helpers/databases.ts";

const ROOT = join(import.meta.dirname, "..");
const ADMIN_KEY = "sk-admin-multi-0001";
const hello = { model: "mock", max_tokens: 16, messages: [{ role: "user" as const, content: "hi there" }] };

/** Starts Parley in its own process the way `parley serve` would, with the store, limits and admin API. */
const LAUNCHER = `
const { pino } = await import("pino");
const { buildConfig } = await import(process.env.PARLEY_ROOT + "/src/config/index.ts");
const { startServer } = await import(process.env.PARLEY_ROOT + "/src/server/index.ts");
const { openStoreServices } = await import(process.env.PARLEY_ROOT + "/src/server/admin/index.ts");
const config = buildConfig(JSON.parse(process.env.PARLEY_TEST_CONFIG), {}, {}, "multi-instance test");
const logger = pino({ level: "warn" }, pino.destination(2));
const services = await openStoreServices(config, logger);
const server = await startServer(config, { ...services, logger });
process.stdout.write(JSON.stringify({ url: server.url }) + "\\n");
process.on("SIGTERM", async () => { await server.close(); await services.close(); process.exit(0); });
`;

interface Instance {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();

function launch(file: ConfigFile): Promise<Instance> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", LAUNCHER], {
      cwd: ROOT,
      env: { ...process.env, PARLEY_ROOT: ROOT, PARLEY_TEST_CONFIG: JSON.stringify(file) },
    });
    running.add(child);
    const exited = new Promise<number | null>((r) =>
      child.on("close", (code) => {
        running.delete(child);
        r(code);
      }),
    );
    let out = "";
    const timer = setTimeout(() => reject(new Error(`parley did not start: ${out}`)), 15_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /"url":"([^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child, exited });
      }
    });
    child.stderr.on("data", (d) => (out += d));
    child.on("close", () => reject(new Error(`parley exited: ${out}`)));
  });
}

afterAll(() => {
  for (const child of running) child.kill("SIGKILL");
});

const config = (storage: string, dataDir: string, limits = "memory"): ConfigFile => ({
  log_level: "warn",
  storage,
  limits,
  data_dir: dataDir,
  admin_keys: [ADMIN_KEY],
  listen: { host: "127.0.0.1", port: 0 },
  models: [{ id: "mock", provider: "mock" }],
});

const adminCall = async (base: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(base + path, {
    method,
    headers: {
      "x-api-key": ADMIN_KEY,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
};

const client = (base: string, apiKey: string) => new Anthropic({ apiKey, baseURL: base, maxRetries: 0 });

async function outputTokens(base: string, keyId: string): Promise<number> {
  const since = new Date(Date.now() - 3_600_000).toISOString();
  const report = (await adminCall(
    base,
    "GET",
    `/v1/organizations/usage_report/messages?starting_at=${since}&bucket_width=1h&api_key_ids[]=${keyId}`,
  )) as { data: { results: { output_tokens: number }[] }[] };
  return report.data.flatMap((b) => b.results).reduce((n, r) => n + r.output_tokens, 0);
}

describe.skipIf(!PG_URL || !REDIS_URL)("two Parley processes sharing PostgreSQL and Redis", () => {
  let db: TestDatabase;
  let dir: string;
  let prefix: string;
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    db = await openTestDatabase("postgres");
    dir = await mkdtemp(join(tmpdir(), "parley-multi-"));
    prefix = redisPrefix();
    const limits = `${REDIS_URL}?prefix=${prefix}`;
    a = await launch(config(db.url, join(dir, "a"), limits));
    b = await launch(config(db.url, join(dir, "b"), limits));
  });
  afterAll(async () => {
    for (const i of [a, b]) {
      i?.child.kill("SIGTERM");
      await i?.exited;
    }
    const redis = new Redis(REDIS_URL ?? "");
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("accepts on one a key created through the other, and shares its usage", async () => {
    const created = await adminCall(a.url, "POST", "/v1/organizations/api_keys", { name: "shared" });
    const reply = await client(b.url, created.key as string).messages.create(hello);
    expect(reply.type).toBe("message");
    const listed = await adminCall(b.url, "GET", `/v1/organizations/api_keys/${created.id}`);
    expect(listed).toMatchObject({ id: created.id, name: "shared", status: "active" });
    await new Promise((r) => setTimeout(r, 700));
    expect(await outputTokens(a.url, created.id as string)).toBe(reply.usage.output_tokens);
  });

  it("lets exactly N requests through across both for an rpm of N, with decreasing headers", async () => {
    const created = await adminCall(a.url, "POST", "/v1/organizations/api_keys", {
      name: "rpm",
      limits: { rpm: 5 },
    });
    const key = created.key as string;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        fetch(`${(i % 2 ? a : b).url}/v1/messages`, {
          method: "POST",
          headers: {
            "x-api-key": key,
            "content-type": "application/json",
            "anthropic-version": "2023-06-01",
          },
          body: JSON.stringify(hello),
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(5);
    expect(results.filter((r) => r.status === 429)).toHaveLength(7);
    expect(ok.map((r) => r.headers.get("anthropic-ratelimit-requests-limit"))).toEqual(Array(5).fill("5"));
    expect(ok.map((r) => Number(r.headers.get("anthropic-ratelimit-requests-remaining"))).sort()).toEqual([
      0, 1, 2, 3, 4,
    ]);
    const refused = results.find((r) => r.status === 429);
    expect(Number(refused?.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused?.headers.get("anthropic-ratelimit-requests-remaining")).toBe("0");
  });

  it("stops a key revoked on one instance on both within a second", async () => {
    const created = await adminCall(a.url, "POST", "/v1/organizations/api_keys", { name: "revoked" });
    const onA = client(a.url, created.key as string);
    const onB = client(b.url, created.key as string);
    await onA.messages.create(hello);
    await onB.messages.create(hello);
    const revokedAt = performance.now();
    await adminCall(a.url, "POST", `/v1/organizations/api_keys/${created.id}`, { status: "archived" });
    await expect(onA.messages.create(hello)).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    let refusedAfter = Number.POSITIVE_INFINITY;
    while (performance.now() - revokedAt < 2000) {
      const res = await onB.messages.create(hello).catch((e: unknown) => e);
      if (res instanceof Anthropic.AuthenticationError) {
        refusedAfter = performance.now() - revokedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(refusedAfter).toBeLessThan(1000);
  });
});

describe("persistence across restarts (SQLite)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "parley-persist-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("keeps keys and usage across kill -9 (after a flush interval) and a graceful stop (everything)", async () => {
    const file = config(`sqlite:${join(dir, "parley.db")}`, dir);
    let one = await launch(file);
    const created = await adminCall(one.url, "POST", "/v1/organizations/api_keys", { name: "durable" });
    const key = created.key as string;
    let expected = 0;
    for (let i = 0; i < 3; i++)
      expected += (await client(one.url, key).messages.create(hello)).usage.output_tokens;
    await new Promise((r) => setTimeout(r, 1000));
    one.child.kill("SIGKILL");
    await one.exited;

    one = await launch(file);
    expect(await outputTokens(one.url, created.id as string)).toBe(expected);
    for (let i = 0; i < 2; i++)
      expected += (await client(one.url, key).messages.create(hello)).usage.output_tokens;
    one.child.kill("SIGTERM");
    expect(await one.exited).toBe(0);

    one = await launch(file);
    expect(await outputTokens(one.url, created.id as string)).toBe(expected);
    one.child.kill("SIGTERM");
    await one.exited;
  });
});
