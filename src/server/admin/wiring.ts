import type { FastifyInstance } from "fastify";
import type { KeyStore } from "../../auth/index.ts";
import type { Config } from "../../config/index.ts";
import { createLimiter, type Limiter, type LimiterLogger } from "../../limits/index.ts";
import { isPostgresUrl, Store, sqlitePath, type UsageRecorder } from "../../store/index.ts";
import { retriedStartupStep, type StartupRetry, startupStep, urlAddress } from "../startup.ts";
import { adminRoutes } from "./plugin.ts";

export interface StoreServices {
  store: Store;
  keyStore: KeyStore;
  limiter: Limiter;
  recorder: UsageRecorder;
  /** The admin API, for `buildApp`'s `plugins`. */
  plugins: ((app: FastifyInstance) => Promise<void>)[];
  /** A key created because none existed at all: print it once, it is never shown again. */
  createdKey?: string;
  /** Flushes usage and closes the limiter and database; call after the HTTP server has closed. */
  close(): Promise<void>;
}

/**
 * Opens the configured store (`storage:`) and limiter (`limits:`), upserts the config's keys, and
 * builds the admin API: everything `startServer` needs for persistent keys, limits and usage.
 */
export async function openStoreServices(
  config: Config,
  logger: LimiterLogger,
  onRetry?: StartupRetry["onRetry"],
): Promise<StoreServices> {
  const retry = { attempts: config.server.start_attempts, delayMs: config.server.start_retry_ms, onRetry };
  const open = () => Store.open(config.storage, { configKeys: config.keys, usage: { logger } });
  const store = isPostgresUrl(config.storage)
    ? await retriedStartupStep("store", urlAddress(config.storage, 5432), "PostgreSQL", retry, open)
    : await startupStep("store", sqlitePath(config.storage), open, "SQLite");
  let limiter: Limiter;
  try {
    const create = () =>
      createLimiter(config.limits, {
        onFailure: config.limits_on_failure,
        logger,
        monthlyUsage: (scope) => store.tokensThisMonth(scope),
      });
    limiter = /^rediss?:\/\//.test(config.limits)
      ? await retriedStartupStep("limits", urlAddress(config.limits, 6379), "Redis", retry, create)
      : await startupStep("limits", config.limits, create);
  } catch (err) {
    await store.close();
    throw err;
  }
  let createdKey: string | undefined;
  if ((await store.keys.count()) === 0) {
    createdKey = (await store.keys.create({ name: "first key" })).secret;
  }
  return {
    store,
    keyStore: store.keyStore,
    limiter,
    recorder: store.recorder,
    plugins: [adminRoutes({ store, adminKeys: config.admin_keys, keyStore: store.keyStore })],
    createdKey,
    async close() {
      await Promise.allSettled([limiter.close?.()]);
      await store.close();
    },
  };
}
