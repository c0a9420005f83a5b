import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { Principal } from "../auth/index.ts";
import { rateLimited } from "../protocol/index.ts";
import type { Limiter } from "./limiter.ts";

/** Requests per minute per key, in this process's memory. */
export class MemoryLimiter implements Limiter {
  private readonly byRpm = new Map<number, RateLimiterMemory>();

  async admit(principal: Principal): Promise<Record<string, string>> {
    const rpm = principal.limits.rpm;
    if (!rpm) return {};
    const limiter = this.limiterFor(rpm);
    try {
      const res = await limiter.consume(principal.keyId, 1);
      return requestHeaders(rpm, res);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      const e = rateLimited(
        `This request would exceed your rate limit of ${rpm} requests per minute. Please retry after ${Math.ceil(err.msBeforeNext / 1000)} seconds.`,
        err.msBeforeNext / 1000,
      );
      Object.assign(e.headers, requestHeaders(rpm, err));
      throw e;
    }
  }

  async charge(): Promise<void> {}

  private limiterFor(rpm: number): RateLimiterMemory {
    let l = this.byRpm.get(rpm);
    if (!l) {
      l = new RateLimiterMemory({ points: rpm, duration: 60, keyPrefix: `rpm${rpm}` });
      this.byRpm.set(rpm, l);
    }
    return l;
  }
}

function requestHeaders(limit: number, res: RateLimiterRes): Record<string, string> {
  return {
    "anthropic-ratelimit-requests-limit": String(limit),
    "anthropic-ratelimit-requests-remaining": String(Math.max(0, res.remainingPoints)),
    "anthropic-ratelimit-requests-reset": new Date(Date.now() + res.msBeforeNext).toISOString(),
  };
}
