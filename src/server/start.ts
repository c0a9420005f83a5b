import { mkdir } from "node:fs/promises";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import type { KeyStore } from "../auth/index.ts";
import { BatchRepository, BatchWorker, type Clock, systemClock } from "../batches/index.ts";
import type { Config } from "../config/index.ts";
import { FileRepository, FileResolver, FileStorage } from "../files/index.ts";
import { type Limiter, MemoryLimiter } from "../limits/index.ts";
import { Metrics } from "../metrics/index.ts";
import { ThinkingSigner } from "../protocol/index.ts";
import {
  createProvider,
  FallbackProvider,
  type ProviderDeps,
  type ProviderLogger,
  withFallbacks,
} from "../providers/index.ts";
import { ModelCatalog } from "../router/index.ts";
import { MessageService } from "../service/index.ts";
import { discardUsage, type Store, type UsageRecorder } from "../store/index.ts";
import { McpConnector } from "../tools/index.ts";
import { openStoreServices, type StoreServices } from "./admin/index.ts";
import { type AppOptions, buildApp } from "./app.ts";
import type { AppDeps } from "./deps.ts";
import { type StartupRetry, startupStep } from "./startup.ts";
import { collectStartupGarbage } from "./startup-gc.ts";

export interface RunningServer {
  app: FastifyInstance;
  /** `http://host:port` actually bound (port 0 picks a free one). */
  url: string;
  deps: AppDeps;
  /** Stops accepting, lets in-flight replies finish (up to shutdown_timeout_ms), then releases everything. */
  close(): Promise<void>;
}

export interface StartOptions extends Partial<AppOptions> {
  keyStore?: KeyStore;
  limiter?: Limiter;
  recorder?: UsageRecorder;
  /** The store for batches and files (`openStoreServices` gives one); without it they are not served. */
  store?: Store;
  /** Time for batch expiry, archiving and file expiry (tests move it). */
  clock?: Clock;
  /** Told before each new try to reach PostgreSQL or Redis at start (the CLI prints a line). */
  onStartupRetry?: StartupRetry["onRetry"];
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  // Each step that can fail at start names itself, so the CLI can say what failed and how to fix it.
  const signer = await startupStep("data_dir", config.data_dir, async () => {
    await mkdir(config.data_dir, { recursive: true });
    return ThinkingSigner.fromDataDir(config.data_dir);
  });
  const logDestination = options.logger ? undefined : asyncStdout();
  const logger = options.logger ?? pino({ level: config.log_level }, logDestination);
  const catalog = buildCatalog(config, { dataDir: config.data_dir, logger, signer });
  // A caller that brings its own key store (tests, embedders) wires the store itself.
  const services = options.keyStore
    ? undefined
    : await openStoreServices(config, logger, options.onStartupRetry);
  if (services?.createdKey) announceCreatedKey(services.createdKey);
  const store = options.store ?? services?.store;
  const clock = options.clock ?? systemClock;
  const metrics = config.metrics.enabled ? new Metrics() : undefined;
  const files = store && {
    repo: new FileRepository(store.db),
    storage: new FileStorage(config.files.dir),
    clock,
  };
  const core = {
    catalog,
    limiter: options.limiter ?? services?.limiter ?? new MemoryLimiter(),
    recorder: options.recorder ?? services?.recorder ?? discardUsage,
    signer,
    mcp: new McpConnector(config.mcp),
    inflight: new Set<AbortController>(),
    files: files && new FileResolver(files.repo, files.storage, clock),
    metrics: metrics?.requests,
  };
  const messages = new MessageService(core);
  const batches = store && batchServices(store, config, { messages, catalog, clock, logger, files });
  const deps: AppDeps = {
    ...core,
    config,
    keyStore: options.keyStore ?? (services as StoreServices).keyStore,
    messages,
    batches,
    files,
    metrics,
    store,
  };
  metrics?.watch({
    catalog,
    recorder: core.recorder,
    batches: batches && {
      countByStatus: () => batches.repo.countByStatus(),
      results: batches.worker?.results,
    },
  });
  const plugins = [...(services?.plugins ?? []), ...(options.plugins ?? [])];
  const app = await buildApp(deps, { ...options, logger, plugins });
  const { host: listenHost, port: listenPort } = config.listen;
  try {
    await startupStep("listen", `${listenHost}:${listenPort}`, () =>
      app.listen({ host: listenHost, port: listenPort }),
    );
  } catch (err) {
    await shutdown(app, deps);
    await services?.close();
    throw err;
  }
  // Listening first lets `/health` answer and `/ready` say which eager model is still loading.
  await Promise.all(deps.catalog.entries.map((e) => startProvider(e.provider, e.config.id, logger)));
  batches?.worker?.start();
  collectStartupGarbage();
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.listen.port;
  const host = config.listen.host.includes(":") ? `[${config.listen.host}]` : config.listen.host;
  return {
    app,
    url: `http://${host}:${port}`,
    deps,
    close: async () => {
      try {
        await shutdown(app, deps);
        await services?.close();
      } finally {
        flushLog(logDestination);
      }
    },
  };
}

/**
 * Log lines go to standard output asynchronously: a request does not wait on a write(2) to a
 * terminal or pipe. Pino flushes what is left when the process exits, and `close()` flushes too.
 */
function asyncStdout() {
  return pino.destination({ dest: 1, sync: false });
}

function flushLog(destination: ReturnType<typeof asyncStdout> | undefined): void {
  try {
    destination?.flushSync();
  } catch {
    // standard output is gone (closed pipe): nothing left to write to
  }
}

/** The batch store and, unless `batches.enabled` is false, this instance's worker. */
function batchServices(
  store: Store,
  config: Config,
  deps: {
    messages: MessageService;
    catalog: ModelCatalog;
    clock: Clock;
    logger: ProviderLogger;
    files?: { repo: FileRepository; storage: FileStorage };
  },
) {
  const repo = new BatchRepository(store.db, store.dialect);
  const { files } = deps;
  const worker = config.batches.enabled
    ? new BatchWorker({
        repo,
        messages: deps.messages,
        catalog: deps.catalog,
        clock: deps.clock,
        options: config.batches,
        logger: deps.logger,
        housekeeping: files
          ? async () => {
              for (const id of await files.repo.expired(deps.clock.now())) {
                await files.repo.delete(id);
                await files.storage.remove(id);
              }
            }
          : undefined,
      })
    : undefined;
  return { repo, worker, clock: deps.clock };
}

/** One provider per model; upstream models with `fallbacks` try those models' providers next. */
function buildCatalog(config: Config, deps: ProviderDeps): ModelCatalog {
  const catalog = new ModelCatalog(
    config.models.map((m) => ({ config: m, provider: createProvider(m, deps) })),
  );
  const primary = (id: string) => {
    const p = catalog.find(id)?.provider;
    return p instanceof FallbackProvider ? p.primary : p;
  };
  for (const e of catalog.entries) {
    const c = e.config;
    if ((c.provider === "openai" || c.provider === "anthropic") && c.fallbacks?.length) {
      e.provider = withFallbacks(e.provider, c.fallbacks, primary, deps.logger);
    }
  }
  return catalog;
}

/** The store had no key at all, so it made one: shown once on standard output, never logged. */
function announceCreatedKey(key: string): void {
  process.stdout.write(
    `\nNo API key existed yet, so Parley created one. It is shown only this once:\n\n    ${key}\n\n` +
      "Only its hash is stored. Manage keys with `parley keys` or under `keys:` in the config.\n\n",
  );
}

/** A model that fails to load is listed as unavailable; the server still starts. */
async function startProvider(
  provider: { start?(): Promise<void> },
  id: string,
  logger: ProviderLogger,
): Promise<void> {
  try {
    await provider.start?.();
  } catch (err) {
    logger.error({ model: id, err }, "model failed to start");
  }
}

async function shutdown(app: FastifyInstance, deps: AppDeps): Promise<void> {
  // Batch requests go back to the queue at once (another instance, or the next start, runs them).
  await deps.batches?.worker?.stop();
  const timeout = deps.config.server.shutdown_timeout_ms;
  const timer = setTimeout(() => {
    for (const c of deps.inflight) c.abort();
    app.server.closeAllConnections();
  }, timeout);
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
  await deps.recorder.flush?.();
  await Promise.allSettled([
    deps.catalog.close(),
    deps.recorder.close?.(),
    deps.keyStore.close?.(),
    deps.limiter.close?.(),
    deps.mcp.close(),
  ]);
}
