import { describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  errorForStatus,
  exhaustedError,
  parseRetryAfter,
  scrub,
  UpstreamFailure,
  UpstreamPool,
  upstreamErrorText,
} from "../src/providers/upstream/index.ts";

const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe("CircuitBreaker", () => {
  it("ejects after several failures in a row, for a back-off that doubles per ejection, one trial at a time", () => {
    let now = 0;
    const b = new CircuitBreaker({ baseMs: 1000, maxMs: 5000, consecutive: 3, now: () => now });
    expect(b.state).toBe("closed");
    b.onFailure();
    b.onFailure();
    expect([b.state, b.canTry()]).toEqual(["closed", true]);
    b.onFailure();
    expect([b.state, b.retryInMs, b.canTry()]).toEqual(["open", 1000, false]);
    now = 1000;
    expect([b.state, b.canTry()]).toEqual(["half_open", true]);
    b.onAttempt();
    expect(b.canTry()).toBe(false);
    b.onFailure();
    expect(b.retryInMs).toBe(2000);
    now += 2000;
    b.onAttempt();
    b.onFailure();
    expect(b.retryInMs).toBe(4000);
    now += 4000;
    b.onFailure();
    expect(b.retryInMs).toBe(5000);
    now += 5000;
    b.onSuccess();
    expect([b.state, b.consecutiveFailures]).toEqual(["closed", 0]);
  });

  it("a success in between resets the run; a failure rate over the window ejects", () => {
    let now = 0;
    const b = new CircuitBreaker({
      baseMs: 1000,
      maxMs: 5000,
      consecutive: 3,
      minSamples: 10,
      failureRate: 0.6,
      windowMs: 10_000,
      now: () => now,
    });
    // 30 % failures, never two in a row: stays in
    for (let i = 0; i < 100; i++) {
      now += 10;
      if (i % 10 === 0 || i % 10 === 3 || i % 10 === 6) b.onFailure();
      else b.onSuccess();
    }
    expect(b.state).toBe("closed");
    now += 20_000;
    // 2 of 3 failing, never 3 in a row: the rate ejects
    for (let i = 0; i < 30 && b.state === "closed"; i++) {
      now += 10;
      if (i % 3 === 0) b.onSuccess();
      else b.onFailure();
    }
    expect(b.state).toBe("open");
  });

  it("old outcomes leave the window", () => {
    let now = 0;
    const b = new CircuitBreaker({
      baseMs: 1000,
      maxMs: 5000,
      consecutive: 100,
      minSamples: 4,
      failureRate: 0.5,
      windowMs: 1000,
      now: () => now,
    });
    b.onFailure();
    b.onSuccess();
    b.onFailure();
    now = 5000;
    b.onSuccess();
    b.onSuccess();
    b.onSuccess();
    b.onFailure();
    expect(b.state).toBe("closed");
  });

  it("stays out at least as long as the upstream's retry-after", () => {
    const b = new CircuitBreaker({ baseMs: 1000, maxMs: 60_000, now: () => 0 });
    b.onFailure(30_000);
    expect(b.retryInMs).toBe(30_000);
  });
});

describe("UpstreamPool.pick", () => {
  const pool = () =>
    new UpstreamPool(["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1", "http://127.0.0.1:3/v1"], {
      model: "m",
      timeouts: { connectMs: 100, firstByteMs: 100, idleMs: 100 },
      breaker: { baseMs: 1000, maxMs: 1000, consecutive: 1 },
      logger: silent,
      secrets: [],
    });

  it("chooses the upstream with the fewest requests in flight, ties in turn", () => {
    const p = pool();
    const [a, b, c] = p.upstreams;
    a.outstanding = 2;
    b.outstanding = 1;
    c.outstanding = 1;
    const picks = [0, 1, 2, 3].map(() => p.pick(new Set())?.label);
    expect(picks).toEqual([b.label, c.label, b.label, c.label]);
    c.outstanding = 0;
    expect(p.pick(new Set())).toBe(c);
    expect(p.pick(new Set([c]))).toBe(b);
  });

  it("skips ejected and unhealthy upstreams, but uses unhealthy ones when nothing else is left", () => {
    const p = pool();
    const [a, b, c] = p.upstreams;
    a.breaker.onFailure();
    b.healthy = false;
    expect(p.pick(new Set())).toBe(c);
    expect(p.pick(new Set([c]))).toBe(b);
    expect(p.pick(new Set([b, c]))).toBeUndefined();
    expect(p.status().available).toBe(true);
    c.breaker.onFailure();
    expect(p.status()).toMatchObject({
      available: false,
      reason: expect.stringContaining("127.0.0.1:1/v1 (ejected"),
    });
  });
});

describe("upstream errors → client errors", () => {
  it.each([
    [400, 400, "invalid_request_error", "context length exceeded"],
    [401, 500, "api_error", "rejected Parley's credentials"],
    [403, 500, "api_error", "rejected Parley's credentials"],
    [404, 500, "api_error", "check base_url and upstream_model"],
    [408, 504, "timeout_error", "timed out"],
    [413, 413, "request_too_large", "context length exceeded"],
    [422, 400, "invalid_request_error", "context length exceeded"],
    [429, 429, "rate_limit_error", "rate limited"],
    [500, 500, "api_error", "failed (HTTP 500)"],
    [502, 529, "overloaded_error", "overloaded"],
    [503, 529, "overloaded_error", "overloaded"],
    [504, 504, "timeout_error", "timed out"],
    [529, 529, "overloaded_error", "overloaded"],
  ])("upstream %i → %i %s", (status, clientStatus, type, words) => {
    const e = errorForStatus(status, "context length exceeded", undefined, "m");
    expect([e.status, e.type]).toEqual([clientStatus, type]);
    expect(e.message).toContain(words);
  });

  it("passes retry-after on with 429 and picks the shortest wait among upstreams", () => {
    const e = exhaustedError(
      [
        new UpstreamFailure("status", "429", { status: 429, retryAfterMs: 7000 }),
        new UpstreamFailure("status", "429", { status: 429, retryAfterMs: 2500 }),
        new UpstreamFailure("connect", "ECONNREFUSED"),
      ],
      "m",
      undefined,
    );
    expect([e.status, e.type, e.headers]).toEqual([429, "rate_limit_error", { "retry-after": "3" }]);
  });

  it.each([
    ["first_byte_timeout", 504, "timeout_error"],
    ["connect", 529, "overloaded_error"],
    ["connect_timeout", 529, "overloaded_error"],
    ["network", 529, "overloaded_error"],
  ] as const)("last failure %s → %i %s", (kind, status, type) => {
    const e = exhaustedError([new UpstreamFailure(kind, "x")], "m", undefined);
    expect([e.status, e.type]).toEqual([status, type]);
    expect(e.message).not.toMatch(/127\.0\.0\.1|ECONN/);
  });

  it("all upstreams ejected: 529 with the time until one is tried again", () => {
    const e = exhaustedError([], "m", 1200);
    expect([e.status, e.type, e.headers]).toEqual([529, "overloaded_error", { "retry-after": "2" }]);
  });

  it("reads error text from OpenAI, vLLM, FastAPI, Ollama and Anthropic bodies", () => {
    expect(upstreamErrorText('{"error":{"message":"bad","type":"invalid_request_error"}}')).toBe("bad");
    expect(
      upstreamErrorText('{"object":"error","message":"too long","type":"BadRequestError","code":400}'),
    ).toBe("too long");
    expect(upstreamErrorText('{"detail":"Not Found"}')).toBe("Not Found");
    expect(upstreamErrorText('{"error":"model not found"}')).toBe("model not found");
    expect(upstreamErrorText("<html>bad gateway</html>")).toBe("<html>bad gateway</html>");
  });

  it("scrubs configured secrets and key-shaped strings", () => {
    expect(scrub("key sk-live-abcdef123456 and s3cr3t-value and Bearer tok123", ["s3cr3t-value"])).toBe(
      "key sk-[redacted] and [redacted] and Bearer [redacted]",
    );
  });

  it("parses retry-after-ms, retry-after seconds and HTTP dates", () => {
    expect(parseRetryAfter({ "retry-after-ms": "1500", "retry-after": "9" })).toBe(1500);
    expect(parseRetryAfter({ "retry-after": "4" })).toBe(4000);
    expect(parseRetryAfter({ "retry-after": new Date(10_000).toUTCString() }, 4000)).toBe(6000);
    expect(parseRetryAfter({})).toBeUndefined();
  });
});
