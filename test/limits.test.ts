import { connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import type { Principal } from "../src/auth/index.ts";
import { type Limiter, MemoryLimiter, RedisLimiter } from "../src/limits/index.ts";
import { ApiError } from "../src/protocol/index.ts";
import { REDIS_URL, redisPrefix } from "./helpers/databases.ts";

const principal = (limits: Principal["limits"], extra: Partial<Principal> = {}): Principal => ({
  keyId: `apikey_${Math.random().toString(36).slice(2)}`,
  name: "t",
  models: ["*"],
  limits,
  ...extra,
});

async function refused(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(err)}`);
  return err;
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

const prefixes: string[] = [];
const redisLimiters: RedisLimiter[] = [];
async function newRedisLimiter(options: Parameters<typeof RedisLimiter.connect>[1] = {}, url = REDIS_URL) {
  const prefix = options.prefix ?? redisPrefix();
  prefixes.push(prefix);
  const limiter = await RedisLimiter.connect(url ?? "", { prefix, ...options });
  redisLimiters.push(limiter);
  return limiter;
}

afterAll(async () => {
  const cleaner = redisLimiters.find((l) => l.client.status === "ready");
  for (const prefix of prefixes) {
    if (!cleaner) break;
    const keys = await cleaner.client.keys(`${prefix}*`);
    if (keys.length) await cleaner.client.del(...keys);
  }
  await Promise.all(redisLimiters.map((l) => l.close()));
});

const kinds: [string, () => Promise<Limiter>][] = [["memory", async () => new MemoryLimiter()]];
if (REDIS_URL) kinds.push(["redis", () => newRedisLimiter()]);
else console.warn("PARLEY_TEST_REDIS_URL is not set: Redis limiter tests are skipped");

describe.each(kinds)("%s limiter", (_name, make) => {
  it("admits rpm requests with decreasing headers, then 429s with retry-after", async () => {
    const limiter = await make();
    const p = principal({ rpm: 3 });
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const h = await limiter.admit(p);
      expect(h["anthropic-ratelimit-requests-limit"]).toBe("3");
      expect(h["anthropic-ratelimit-requests-reset"]).toMatch(RFC3339);
      seen.push(h["anthropic-ratelimit-requests-remaining"]);
    }
    expect(seen).toEqual(["2", "1", "0"]);
    const err = await refused(limiter.admit(p));
    expect(err.status).toBe(429);
    expect(err.type).toBe("rate_limit_error");
    expect(err.message).toMatch(/API key's rate limit of 3 requests per minute/);
    const retry = Number(err.headers["retry-after"]);
    expect(retry).toBeGreaterThanOrEqual(59);
    expect(retry).toBeLessThanOrEqual(60);
    expect(err.headers["anthropic-ratelimit-requests-remaining"]).toBe("0");
    const reset = Date.parse(err.headers["anthropic-ratelimit-requests-reset"]);
    expect(reset - Date.now()).toBeGreaterThan(55_000);
    expect(reset - Date.now()).toBeLessThanOrEqual(61_000);
  });

  it("reports and enforces input, output and total tokens per minute", async () => {
    const limiter = await make();
    const p = principal({ input_tpm: 100, output_tpm: 50, tpm: 120 });
    const first = await limiter.admit(p);
    expect(first).toMatchObject({
      "anthropic-ratelimit-input-tokens-limit": "100",
      "anthropic-ratelimit-input-tokens-remaining": "100",
      "anthropic-ratelimit-output-tokens-limit": "50",
      "anthropic-ratelimit-output-tokens-remaining": "50",
      "anthropic-ratelimit-tokens-limit": "50",
      "anthropic-ratelimit-tokens-remaining": "50",
    });
    expect(first["anthropic-ratelimit-requests-limit"]).toBeUndefined();
    await limiter.charge(p, { input_tokens: 60, output_tokens: 10 });
    const second = await limiter.admit(p);
    expect(second).toMatchObject({
      "anthropic-ratelimit-input-tokens-remaining": "40",
      "anthropic-ratelimit-output-tokens-remaining": "40",
      // The tightest token limit in effect: input has 40 left, output 40, total 120 - 70 = 50.
      "anthropic-ratelimit-tokens-remaining": "40",
    });
    await limiter.charge(p, { input_tokens: 45, output_tokens: 0 });
    const err = await refused(limiter.admit(p));
    expect(err.status).toBe(429);
    expect(err.message).toMatch(/100 input tokens per minute/);
    expect(err.headers["anthropic-ratelimit-input-tokens-remaining"]).toBe("0");
    expect(err.headers["anthropic-ratelimit-tokens-remaining"]).toBe("0");
    expect(Number(err.headers["retry-after"])).toBeGreaterThan(50);
  });

  it("shares a workspace's limits among its keys; a refused request counts nowhere", async () => {
    const limiter = await make();
    const workspace = { workspaceId: `wrkspc_${Math.random()}`, workspaceLimits: { rpm: 3 } };
    const a = principal({ rpm: 10 }, workspace);
    const b = principal({}, workspace);
    await limiter.admit(a);
    await limiter.admit(b);
    const third = await limiter.admit(a);
    // The tighter of key (10 - 2 = 8) and workspace (3 - 3 = 0) is reported.
    expect(third["anthropic-ratelimit-requests-remaining"]).toBe("0");
    expect(third["anthropic-ratelimit-requests-limit"]).toBe("3");
    const err = await refused(limiter.admit(b));
    expect(err.message).toMatch(/workspace's rate limit of 3 requests per minute/);
    const solo = principal({ rpm: 10 }, { keyId: a.keyId });
    expect((await limiter.admit(solo))["anthropic-ratelimit-requests-remaining"]).toBe("7");
  });

  it("enforces a monthly budget seeded from recorded usage, resetting at the next UTC month", async () => {
    const used = new Map<string, number>();
    const limiter = await make();
    const seeded =
      limiter instanceof MemoryLimiter
        ? new MemoryLimiter({ monthlyUsage: async (s) => used.get(s.id) ?? 0 })
        : await newRedisLimiter({ monthlyUsage: async (s) => used.get(s.id) ?? 0 });
    const p = principal({ monthly_tokens: 1000 });
    used.set(p.keyId, 990);
    const h = await seeded.admit(p);
    const now = new Date();
    const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
    expect(h).toEqual({
      "anthropic-ratelimit-tokens-limit": "1000",
      "anthropic-ratelimit-tokens-remaining": "10",
      "anthropic-ratelimit-tokens-reset": nextMonth.replace(".000Z", "Z"),
    });
    await seeded.charge(p, { input_tokens: 15, output_tokens: 5 });
    const err = await refused(seeded.admit(p));
    expect(err.message).toMatch(/monthly budget of 1,000 tokens/);
    const retry = Number(err.headers["retry-after"]);
    expect(Math.abs(retry - (Date.parse(nextMonth) - Date.now()) / 1000)).toBeLessThan(5);
  });

  it("sends no headers for a key without limits", async () => {
    const limiter = await make();
    expect(await limiter.admit(principal({}))).toEqual({});
    await limiter.charge(principal({}), { input_tokens: 5, output_tokens: 5 });
  });
});

describe.skipIf(!REDIS_URL)("redis limiter across instances and outages", () => {
  it("lets exactly N requests through two limiters sharing Redis", async () => {
    const prefix = redisPrefix();
    const [one, two] = [await newRedisLimiter({ prefix }), await newRedisLimiter({ prefix })];
    const p = principal({ rpm: 7 });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).admit(p)),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(7);
    const remaining = results
      .filter((r) => r.status === "fulfilled")
      .map((r) =>
        Number(
          (r as PromiseFulfilledResult<Record<string, string>>).value[
            "anthropic-ratelimit-requests-remaining"
          ],
        ),
      )
      .sort();
    expect(remaining).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it("fails open or closed while Redis is down, logs it, and recovers", async () => {
    const proxy = await startProxy(new URL(REDIS_URL ?? "").port || "6379");
    const logs: string[] = [];
    const logger = {
      warn: (_: object, m: string) => logs.push(`warn ${m}`),
      error: (_: object, m: string) => logs.push(`error ${m}`),
    };
    const url = `redis://127.0.0.1:${proxy.port}`;
    const open = await newRedisLimiter({ logger, onFailure: "open", commandTimeoutMs: 200 }, url);
    const closed = await newRedisLimiter({ logger, onFailure: "closed", commandTimeoutMs: 200 }, url);
    const p = principal({ rpm: 100 });
    expect((await open.admit(p))["anthropic-ratelimit-requests-remaining"]).toBe("99");

    await proxy.stop();
    await new Promise((r) => setTimeout(r, 50));
    expect(await open.admit(p)).toEqual({});
    const err = await refused(closed.admit(p));
    expect(err.status).toBe(529);
    expect(err.type).toBe("overloaded_error");
    expect(logs).toContain("error rate limit store unavailable: failing open (requests are not limited)");
    expect(logs).toContain("error rate limit store unavailable: failing closed (requests are refused)");

    await proxy.start();
    const deadline = Date.now() + 5000;
    while (open.client.status !== "ready" && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect((await open.admit(p))["anthropic-ratelimit-requests-remaining"]).toBe("98");
    expect(logs).toContain("warn rate limit store reachable again");
    await proxy.stop();
  });
});

/** A TCP proxy to Redis that can be cut and restored, to simulate an outage. */
async function startProxy(targetPort: string) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const start = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(targetPort), "127.0.0.1");
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const end = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on("error", end).on("close", end);
        upstream.on("error", end).on("close", end);
      });
      server.listen(port, "127.0.0.1", () => {
        const addr = server?.address();
        if (addr && typeof addr === "object") port = addr.port;
        resolve();
      });
    });
  await start();
  return {
    get port() {
      return port;
    },
    start,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        sockets.clear();
        if (server) server.close(() => resolve());
        else resolve();
      }),
  };
}
