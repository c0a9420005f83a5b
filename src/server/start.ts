import { mkdir } from "node:fs/promises";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { ConfigKeyStore, type KeyStore, loadOrCreateBootstrapKey } from "../auth/index.ts";
import type { Config } from "../config/index.ts";
import { type Limiter, MemoryLimiter } from "../limits/index.ts";
import { createProvider, type ProviderLogger } from "../providers/index.ts";
import { ModelCatalog } from "../router/index.ts";
import { discardUsage, type UsageRecorder } from "../store/index.ts";
import { type AppOptions, buildApp } from "./app.ts";
import type { AppDeps } from "./deps.ts";

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
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  await mkdir(config.data_dir, { recursive: true });
  const logger = options.logger ?? pino({ level: config.log_level });
  const catalog = new ModelCatalog(
    config.models.map((m) => ({
      config: m,
      provider: createProvider(m, { dataDir: config.data_dir, logger }),
    })),
  );
  const deps: AppDeps = {
    config,
    catalog,
    keyStore: options.keyStore ?? (await configKeyStore(config)),
    limiter: options.limiter ?? new MemoryLimiter(),
    recorder: options.recorder ?? discardUsage,
    inflight: new Set(),
  };
  const app = await buildApp(deps, { ...options, logger });
  await Promise.all(deps.catalog.entries.map((e) => startProvider(e.provider, e.config.id, logger)));
  await app.listen({ host: config.listen.host, port: config.listen.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.listen.port;
  const host = config.listen.host.includes(":") ? `[${config.listen.host}]` : config.listen.host;
  return { app, url: `http://${host}:${port}`, deps, close: () => shutdown(app, deps) };
}

/** Keys from the config; with none, a bootstrap key created on first start (printed once). */
async function configKeyStore(config: Config): Promise<KeyStore> {
  if (config.keys.length > 0) return new ConfigKeyStore(config.keys);
  const boot = await loadOrCreateBootstrapKey(config.data_dir);
  if (boot.created) {
    process.stdout.write(
      `\nNo API keys are configured, so Parley created one. It is shown only this once:\n\n    ${boot.created}\n\n` +
        `Only its hash is kept (${config.data_dir}/bootstrap-key.json). Add keys under \`keys:\` in the config.\n\n`,
    );
  }
  return new ConfigKeyStore([], [{ hash: boot.hash, name: `bootstrap key ${boot.hint}` }]);
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
  ]);
}
