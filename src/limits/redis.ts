import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { UNBOUNDED, WindowLimiter, type WindowLimiterOptions } from "./window-limiter.ts";

export interface RedisLimiterOptions extends WindowLimiterOptions {
  /** Prefix of every Redis key Parley writes (default `parley:rl:`). */
  prefix?: string;
  /** A Redis command slower than this counts as a failure (default 500 ms). */
  commandTimeoutMs?: number;
}

/**
 * Limits shared by every instance through Redis. Commands fail fast while Redis is unreachable (no
 * offline queue, short timeout) so a Redis outage turns into the configured fail-open or fail-closed
 * behaviour instead of hung requests.
 */
export class RedisLimiter extends WindowLimiter {
  readonly client: Redis;

  private constructor(client: Redis, options: RedisLimiterOptions) {
    const prefix = options.prefix ?? "parley:rl:";
    super(
      (dim, seconds) =>
        new RateLimiterRedis({
          storeClient: client,
          points: UNBOUNDED,
          duration: seconds,
          keyPrefix: `${prefix}${dim}`,
          rejectIfRedisNotReady: true,
        }),
      options,
    );
    this.client = client;
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  /**
   * Connects, waiting up to a couple of seconds. Unreachable at start is an error (the start-up
   * retries it, then stops with a message); once started, outages are retried in the background
   * and served open or closed as configured.
   */
  static async connect(url: string, options: RedisLimiterOptions = {}): Promise<RedisLimiter> {
    const client = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: options.commandTimeoutMs ?? 500,
      lazyConnect: true,
      retryStrategy: (times) => Math.min(times * 100, 1000),
    });
    let lastError: Error | undefined;
    client.on("error", (err: Error) => {
      if (err.message !== lastError?.message)
        options.logger?.warn({ err: err.message }, "redis connection error");
      lastError = err;
    });
    client.on("ready", () => {
      lastError = undefined;
    });
    try {
      await Promise.race([
        client.connect(),
        new Promise((_, no) => setTimeout(() => no(new Error("connection timeout")), 2000).unref()),
      ]);
    } catch (err) {
      client.disconnect();
      // ioredis rejects with "Connection is closed"; the error event before it says why (ECONNREFUSED…).
      throw lastError ?? err;
    }
    return new RedisLimiter(client, options);
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}
