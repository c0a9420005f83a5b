/**
 * GET /health (process up) and GET /ready (store, Redis when configured, eager models): no key,
 * JSON that says what is not ready, and an eager llama model that is still loading holds
 * readiness back until it has loaded.
 */
import { existsSync } from "node:fs";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./helpers/free-port.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

const MODELS_DIR = resolve(process.env.PARLEY_MODELS_DIR ?? join(import.meta.dirname, "../../shared/models"));
const TINY = join(MODELS_DIR, "llama-2-tiny-random.gguf");
const REDIS = process.env.PARLEY_TEST_REDIS_URL;

describe("/health and /ready", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      storage: "sqlite::memory:",
      models: [
        { id: "mock", provider: "mock" },
        { id: "missing", provider: "llama", path: join(MODELS_DIR, "no-such-model.gguf") },
        { id: "later", provider: "llama", path: TINY, load: "lazy" },
      ],
    });
  });
  afterAll(() => server?.stop());

  it("/health answers 200 {status: ok} without a key", async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("/ready: store reachable, a failed eager model listed with its reason but not blocking, lazy not loaded", async () => {
    const res = await fetch(`${server.url}/ready`);
    const body = (await res.json()) as { checks: { redis?: unknown } };
    expect(res.status).toBe(200);
    expect(body).toMatchObject({
      status: "ready",
      checks: {
        store: { ok: true },
        models: {
          mock: { ok: true },
          missing: { ok: false, load: "failed", reason: expect.stringContaining("no-such-model.gguf") },
          later: { ok: true, load: "not_loaded" },
        },
      },
    });
    expect(body.checks.redis).toBeUndefined();
  });

  it("a body or a bad key does not matter to either", async () => {
    const res = await fetch(`${server.url}/health`, { headers: { "x-api-key": "wrong-key-123" } });
    expect(res.status).toBe(200);
    const post = await fetch(`${server.url}/ready`, { method: "POST", body: "{}" });
    expect(post.status).toBe(404);
    expect(await post.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } });
  });
});

describe.skipIf(!REDIS)("/ready with Redis limits", () => {
  it("reports Redis reachable, and not ready with the reason when it is not", async () => {
    const up = await startTestServer({ limits: REDIS as string, storage: "sqlite::memory:" });
    // Redis must answer at start (else the start fails): this one is reached through a proxy the
    // test then closes, so it goes away after start and the limiter retries in the background.
    const proxy = await redisProxy(new URL(REDIS as string));
    const down = await startTestServer({ limits: proxy.url, storage: "sqlite::memory:" });
    await proxy.close();
    try {
      const ok = await fetch(`${up.url}/ready`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({
        status: "ready",
        checks: { redis: { ok: true }, store: { ok: true } },
      });
      const bad = await fetch(`${down.url}/ready`);
      expect(bad.status).toBe(503);
      const body = (await bad.json()) as { checks: { redis: { reason: string } } };
      expect(body).toMatchObject({
        status: "not_ready",
        checks: { redis: { ok: false }, store: { ok: true } },
      });
      expect(body.checks.redis.reason).toEqual(expect.any(String));
    } finally {
      await Promise.all([up.stop(), down.stop()]);
    }
  });
});

describe.skipIf(!existsSync(TINY))("/ready while an eager llama model loads", () => {
  it("is 503 naming the model as loading, then 200 once it has loaded", { timeout: 60_000 }, async () => {
    const port = await freePort();
    const bodies: {
      status: number;
      body: { status: string; checks: { models: Record<string, unknown> } };
    }[] = [];
    let started = false;
    // Poll from the moment the port listens until startServer resolves (after the load).
    const polling = (async () => {
      while (!started) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/ready`);
          bodies.push({ status: res.status, body: (await res.json()) as (typeof bodies)[number]["body"] });
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const server = await startTestServer({
      listen: { port },
      models: [{ id: "tiny", provider: "llama", path: TINY, context_window: 2048, load: "eager" }],
    });
    started = true;
    await polling;
    try {
      const loading = bodies.filter((b) => b.status === 503);
      expect(loading.length).toBeGreaterThan(0);
      for (const b of loading)
        expect(b.body).toEqual({
          status: "not_ready",
          checks: {
            store: { ok: true },
            models: {
              tiny: {
                ok: false,
                load: expect.stringMatching(/^(loading|not_loaded)$/),
                reason: expect.any(String),
              },
            },
          },
        });
      expect(
        loading.some((b) => (b.body.checks.models.tiny as { reason: string }).reason === "loading"),
      ).toBe(true);
      // Once 200, never back to 503.
      const firstReady = bodies.findIndex((b) => b.status === 200);
      if (firstReady >= 0) expect(bodies.slice(firstReady).every((b) => b.status === 200)).toBe(true);
      const res = await fetch(`${server.url}/ready`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        status: "ready",
        checks: { store: { ok: true }, models: { tiny: { ok: true, load: "loaded" } } },
      });
    } finally {
      await server.stop();
    }
  });
});

/** A TCP proxy to Redis that can be taken away: `close()` drops its connections and stops listening. */
async function redisProxy(target: URL): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    close: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
