import type { Limiter } from "./limiter.ts";
import { MemoryLimiter } from "./memory.ts";
import { RedisLimiter, type RedisLimiterOptions } from "./redis.ts";

/** The limiter a `limits:` setting names: `memory`, or `redis://…` / `rediss://…` to share limits across instances. */
export async function createLimiter(setting: string, options: RedisLimiterOptions = {}): Promise<Limiter> {
  if (setting === "memory") return new MemoryLimiter(options);
  if (/^rediss?:\/\//.test(setting)) return RedisLimiter.connect(setting, options);
  throw new Error(`limits: '${setting}' is neither 'memory' nor a redis:// URL`);
}
