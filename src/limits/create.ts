import type { Limiter } from "./limiter.ts";
import { MemoryLimiter } from "./memory.ts";
import { RedisLimiter, type RedisLimiterOptions } from "./redis.ts";

/**
 * The limiter a `limits:` setting names: `memory`, or `redis://…` / `rediss://…` to share limits across
 * instances (`?prefix=NAME` keeps Parley's Redis keys under NAME, default `parley:rl:`).
 */
export async function createLimiter(setting: string, options: RedisLimiterOptions = {}): Promise<Limiter> {
  if (setting === "memory") return new MemoryLimiter(options);
  if (/^rediss?:\/\//.test(setting)) {
    const url = new URL(setting);
    const prefix = url.searchParams.get("prefix") ?? options.prefix;
    url.searchParams.delete("prefix");
    return RedisLimiter.connect(url.toString(), { ...options, prefix });
  }
  throw new Error(`limits: '${setting}' is neither 'memory' nor a redis:// URL`);
}
