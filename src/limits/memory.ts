import { RateLimiterMemory } from "rate-limiter-flexible";
import { UNBOUNDED, WindowLimiter, type WindowLimiterOptions } from "./window-limiter.ts";

/** Limits in this process's memory: the default, for a single instance. */
export class MemoryLimiter extends WindowLimiter {
  constructor(options: WindowLimiterOptions = {}) {
    // Timers cannot run a month (Node caps them near 24.8 days), so budget counters never expire here;
    // they are named by month, so a new month starts a new counter.
    super(
      (dim, seconds) =>
        new RateLimiterMemory({
          points: UNBOUNDED,
          duration: dim === "monthly" ? 0 : seconds,
          keyPrefix: dim,
        }),
      options,
    );
  }
}
