import type { RateLimiterAbstract } from "rate-limiter-flexible";
import type { Principal } from "../auth/index.ts";
import { ApiError, overloaded, rateLimited } from "../protocol/index.ts";
import { limitMessage, rateLimitHeaders } from "./headers.ts";
import type { Limiter, TokenCharge } from "./limiter.ts";
import {
  counterKey,
  type Dimension,
  type LimitStatus,
  limitOf,
  remaining,
  type Scope,
  scopesOf,
  startOfNextMonth,
  TOKEN_DIMENSIONS,
} from "./windows.ts";

export interface LimiterLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WindowLimiterOptions {
  /** Tokens a key or workspace used this month before this process saw it (from the usage store). */
  monthlyUsage?: (scope: { kind: "key" | "workspace"; id: string }) => Promise<number>;
  /** When the counters cannot be reached: let requests through (`open`) or refuse them (`closed`). */
  onFailure?: "open" | "closed";
  logger?: LimiterLogger;
}

/** Counters never reject by themselves: limits differ per key, so they are compared here. */
export const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/** How long each counter lives: one-minute windows, and month-named budget counters kept a little past their month. */
export const WINDOW_SECONDS: Record<Dimension, number> = {
  requests: 60,
  input: 60,
  output: 60,
  tokens: 60,
  monthly: 32 * 86_400,
};

/**
 * Requests, input, output and total tokens per minute and tokens per month, per key and per workspace,
 * as fixed windows in rate-limiter-flexible counters (memory or Redis). A request is admitted while
 * every token window has room and its request counts fit; its tokens are charged when it ends, so one
 * request may overshoot a token window, and the next waits for the reset.
 */
export class WindowLimiter implements Limiter {
  private readonly counters: Record<Dimension, RateLimiterAbstract>;
  private readonly options: WindowLimiterOptions;
  private failingSince: number | undefined;
  private failures = 0;
  private lastFailureLog = 0;

  constructor(
    counter: (dim: Dimension, seconds: number) => RateLimiterAbstract,
    options: WindowLimiterOptions,
  ) {
    this.options = options;
    this.counters = {
      requests: counter("requests", WINDOW_SECONDS.requests),
      input: counter("input", WINDOW_SECONDS.input),
      output: counter("output", WINDOW_SECONDS.output),
      tokens: counter("tokens", WINDOW_SECONDS.tokens),
      monthly: counter("monthly", WINDOW_SECONDS.monthly),
    };
  }

  async admit(principal: Principal): Promise<Record<string, string>> {
    const scopes = scopesOf(principal);
    if (scopes.length === 0) return {};
    try {
      const headers = await this.check(scopes, new Date());
      this.recovered();
      return headers;
    } catch (err) {
      if (err instanceof ApiError) throw err;
      this.failed(err, "admit");
      if (this.options.onFailure === "closed") {
        throw overloaded("Rate limits cannot be checked at the moment. Please retry shortly.");
      }
      return {};
    }
  }

  async charge(principal: Principal, tokens: TokenCharge): Promise<void> {
    const now = new Date();
    const amounts: Record<Exclude<Dimension, "requests">, number> = {
      input: tokens.input_tokens,
      output: tokens.output_tokens,
      tokens: tokens.input_tokens + tokens.output_tokens,
      monthly: tokens.input_tokens + tokens.output_tokens,
    };
    // Loops, not flatMap/filter/map: this runs after every request (V8's flatMap is a generic builtin).
    const charges: Promise<unknown>[] = [];
    for (const scope of scopesOf(principal))
      for (const dim of TOKEN_DIMENSIONS)
        if (limitOf(scope, dim) !== undefined && amounts[dim] > 0)
          charges.push(this.counters[dim].penalty(counterKey(scope, dim, now), amounts[dim]));
    try {
      await Promise.all(charges);
    } catch (err) {
      this.failed(err, "charge");
    }
  }

  private async check(scopes: Scope[], now: Date): Promise<Record<string, string>> {
    const pending: Promise<LimitStatus>[] = [];
    for (const scope of scopes)
      for (const dim of TOKEN_DIMENSIONS)
        if (limitOf(scope, dim) !== undefined) pending.push(this.status(scope, dim, now));
    const tokenStatuses = await Promise.all(pending);
    const limitedScopes = scopes.filter((s) => limitOf(s, "requests") !== undefined);
    const exhausted = tokenStatuses.filter((s) => remaining(s) <= 0);
    if (exhausted.length > 0) {
      const requests = await Promise.all(limitedScopes.map((s) => this.status(s, "requests", now)));
      throw reject(exhausted, [...requests, ...tokenStatuses], now);
    }
    const requests = await Promise.all(limitedScopes.map((s) => this.consumeRequest(s, now)));
    const over = requests.filter((s) => s.used > s.limit);
    if (over.length > 0) {
      // A refused request does not count against any window.
      await Promise.all(
        requests.map((s) => this.counters.requests.reward(counterKey(s.scope, "requests", now), 1)),
      );
      throw reject(over, [...requests, ...tokenStatuses], now);
    }
    return rateLimitHeaders([...requests, ...tokenStatuses]);
  }

  private async consumeRequest(scope: Scope, now: Date): Promise<LimitStatus> {
    const res = await this.counters.requests.consume(counterKey(scope, "requests", now), 1);
    return {
      dim: "requests",
      scope,
      limit: limitOf(scope, "requests") ?? UNBOUNDED,
      used: res.consumedPoints,
      resetAt: now.getTime() + res.msBeforeNext,
    };
  }

  private async status(scope: Scope, dim: Dimension, now: Date): Promise<LimitStatus> {
    const key = counterKey(scope, dim, now);
    let res = await this.counters[dim].get(key);
    if (!res && dim === "monthly" && this.options.monthlyUsage) {
      const used = await this.options.monthlyUsage({ kind: scope.kind, id: scope.id });
      if (used > 0) res = await this.counters.monthly.set(key, used, this.counters.monthly.duration);
    }
    const limit = limitOf(scope, dim) ?? UNBOUNDED;
    const used = res?.consumedPoints ?? 0;
    const resetAt =
      dim === "monthly"
        ? startOfNextMonth(now).getTime()
        : now.getTime() + (res && res.msBeforeNext > 0 ? res.msBeforeNext : 0);
    return { dim, scope, limit, used, resetAt };
  }

  private failed(err: unknown, during: "admit" | "charge"): void {
    this.failures++;
    const now = Date.now();
    const mode = this.options.onFailure === "closed" ? "closed" : "open";
    if (this.failingSince === undefined || now - this.lastFailureLog > 10_000) {
      this.options.logger?.error(
        { err, during, failures: this.failures, failing: mode },
        `rate limit store unavailable: failing ${mode} (${mode === "open" ? "requests are not limited" : "requests are refused"})`,
      );
      this.lastFailureLog = now;
    }
    this.failingSince ??= now;
  }

  private recovered(): void {
    if (this.failingSince === undefined) return;
    this.options.logger?.warn(
      { failures: this.failures, down_ms: Date.now() - this.failingSince },
      "rate limit store reachable again",
    );
    this.failingSince = undefined;
    this.failures = 0;
  }
}

/** Which limit a 429 hit (for metrics: one series per dimension and scope kind, never an id). */
export interface LimitHit {
  dimension: Dimension;
  scope: "key" | "workspace";
}

const HIT = Symbol("limit hit");

/** The limit behind a 429 from `admit`, if it came from one. */
export function limitHitOf(err: unknown): LimitHit | undefined {
  return err instanceof ApiError ? (err as ApiError & { [HIT]?: LimitHit })[HIT] : undefined;
}

/** A 429 naming the limit that frees up last, with the headers as they stand. */
function reject(hit: LimitStatus[], all: LimitStatus[], now: Date): ApiError {
  const last = hit.reduce((a, b) => (b.resetAt > a.resetAt ? b : a));
  const seconds = Math.max(1, Math.ceil((last.resetAt - now.getTime()) / 1000));
  const err = rateLimited(limitMessage(last, seconds), seconds);
  Object.assign(err.headers, rateLimitHeaders(all));
  return Object.assign(err, { [HIT]: { dimension: last.dim, scope: last.scope.kind } });
}
