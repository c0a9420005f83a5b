export { createLimiter } from "./create.ts";
export { rateLimitHeaders } from "./headers.ts";
export type { Limiter, TokenCharge } from "./limiter.ts";
export { MemoryLimiter } from "./memory.ts";
export { RedisLimiter, type RedisLimiterOptions } from "./redis.ts";
export {
  type LimiterLogger,
  type LimitHit,
  limitHitOf,
  WindowLimiter,
  type WindowLimiterOptions,
} from "./window-limiter.ts";
