import type { Limiter } from "../limits/index.ts";
import type { ModelCatalog } from "../router/index.ts";

export interface Check {
  ok: boolean;
  reason?: string;
}

export interface Readiness {
  status: "ready" | "not_ready";
  checks: {
    store?: Check;
    redis?: Check;
    models: Record<string, Check & { load?: string }>;
  };
}

export interface ReadinessSources {
  catalog: ModelCatalog;
  limiter: Limiter;
  store?: { ping(): Promise<void> };
}

/** A probe that does not answer within this long counts as down (the orchestrator has its own timeout). */
const PROBE_TIMEOUT_MS = 2000;

/**
 * What `/ready` reports: the store answers a query, Redis (when limits live there) answers a PING,
 * and every eager model is loaded. A model still loading makes the instance not ready; one that
 * failed is listed with its reason but does not hold readiness back (it stays unavailable until
 * fixed, and the other models serve meanwhile). Lazy models load on first use and never block.
 */
export async function readiness(sources: ReadinessSources): Promise<Readiness> {
  const [store, redis] = await Promise.all([
    sources.store && probe(() => sources.store?.ping()),
    sources.limiter.ping && probe(() => sources.limiter.ping?.()),
  ]);
  const models: Readiness["checks"]["models"] = {};
  let modelsReady = true;
  for (const e of sources.catalog.entries) {
    const s = e.provider.status();
    const eager = e.config.provider === "llama" && e.config.load !== "lazy";
    if (eager && (s.load === "loading" || s.load === "not_loaded")) {
      modelsReady = false;
      models[e.config.id] = {
        ok: false,
        load: s.load,
        reason: s.load === "loading" ? "loading" : "not loaded yet",
      };
    } else if (!s.available) {
      models[e.config.id] = {
        ok: false,
        ...(s.load ? { load: s.load } : {}),
        reason: s.reason ?? "unavailable",
      };
    } else models[e.config.id] = { ok: true, ...(s.load ? { load: s.load } : {}) };
  }
  const ready = modelsReady && store?.ok !== false && redis?.ok !== false;
  return {
    status: ready ? "ready" : "not_ready",
    checks: { ...(store ? { store } : {}), ...(redis ? { redis } : {}), models },
  };
}

async function probe(ping: () => Promise<void> | undefined): Promise<Check> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
  });
  try {
    await Promise.race([ping(), timeout]);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}
