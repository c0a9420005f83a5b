import { Counter, Gauge, type Registry } from "prom-client";
import type { LoadState, UpstreamHealth } from "../providers/index.ts";
import type { ModelCatalog, ModelEntry } from "../router/index.ts";
import type { UsageRecorder } from "../store/index.ts";

/** What the batch metrics read at scrape time. */
export interface BatchSource {
  /** Batches in the store by processing status. */
  countByStatus(): Promise<Partial<Record<string, number>>>;
  /** This instance's worker: requests it ended, by result type. */
  results?: Partial<Record<string, number>>;
}

export interface LiveSources {
  catalog: ModelCatalog;
  recorder: UsageRecorder;
  batches?: BatchSource;
}

const LOAD_STATES: LoadState[] = ["not_loaded", "loading", "loaded", "failed"];
const BREAKER_STATES = ["closed", "open", "half_open"] as const;

/**
 * Series read from live state when Prometheus scrapes (gates, providers, the usage writer, the
 * batch store), so the request path pays nothing for them.
 */
type Set<L extends string> = (labels: Partial<Record<L, string>>, value: number) => void;
type Collect<L extends string> = (set: Set<L>) => void | Promise<void>;

/** Gauges and counters whose values are read in `collect()`, each scrape starting from zero. */
function makers(registry: Registry) {
  const registers = [registry];
  return {
    gauge<L extends string>(name: string, help: string, labelNames: L[], collect: Collect<L>) {
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          this.reset();
          await collect((labels, value) => this.set(labels, value));
        },
      });
    },
    counter<L extends string>(name: string, help: string, labelNames: L[], collect: Collect<L>) {
      new Counter<L>({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          this.reset();
          await collect((labels, value) => this.inc(labels, value));
        },
      });
    },
  };
}

type Makers = ReturnType<typeof makers>;

/**
 * Series read from live state when Prometheus scrapes (gates, providers, the usage writer, the
 * batch store), so the request path pays nothing for them.
 */
export function registerLiveState(registry: Registry, sources: LiveSources): void {
  const m = makers(registry);
  registerModels(m, sources.catalog);
  registerUpstreams(m, sources.catalog);
  registerStore(m, sources);
}

function registerModels({ gauge, counter }: Makers, catalog: ModelCatalog): void {
  const each = (set: Set<"model">, value: (e: ModelEntry) => number) => {
    for (const e of catalog.entries) set({ model: e.config.id }, value(e));
  };
  gauge("parley_model_slots", "Requests a model runs at once (its `parallel`)", ["model"], (set) =>
    each(set, (e) => e.gate.slots),
  );
  gauge("parley_model_slots_busy", "Requests running on a model now", ["model"], (set) =>
    each(set, (e) => e.gate.active),
  );
  gauge("parley_model_queue_depth", "Requests waiting for a model's slot now", ["model"], (set) =>
    each(set, (e) => e.gate.queued),
  );
  gauge(
    "parley_model_available",
    "1 when the model can serve now, 0 when it is unavailable",
    ["model"],
    (set) => each(set, (e) => (e.provider.status().available ? 1 : 0)),
  );
  gauge(
    "parley_model_load_state",
    "A local model's load state: 1 for the current state, 0 for the others",
    ["model", "state"],
    (set) => {
      for (const e of catalog.entries) {
        const load = e.provider.status().load;
        if (!load) continue;
        for (const state of LOAD_STATES) set({ model: e.config.id, state }, state === load ? 1 : 0);
      }
    },
  );
  counter(
    "parley_llama_kv_tokens_total",
    "Prompt tokens of local models: KV state reused from a slot's cache vs evaluated afresh",
    ["model", "kind"],
    (set) => {
      for (const e of catalog.entries) {
        const kv = e.provider.status().kv;
        if (!kv) continue;
        set({ model: e.config.id, kind: "reused" }, kv.reused_tokens);
        set({ model: e.config.id, kind: "evaluated" }, kv.evaluated_tokens);
      }
    },
  );
}

function registerUpstreams({ gauge, counter }: Makers, catalog: ModelCatalog): void {
  const labels: ("model" | "upstream")[] = ["model", "upstream"];
  const each = (set: Set<"model" | "upstream">, value: (u: UpstreamHealth) => number) => {
    for (const e of catalog.entries)
      for (const u of e.provider.status().upstreams ?? [])
        set({ model: e.config.id, upstream: u.url }, value(u));
  };
  gauge(
    "parley_upstream_in_flight",
    "Requests sent to an upstream base URL and not finished",
    labels,
    (set) => each(set, (u) => u.in_flight),
  );
  gauge("parley_upstream_healthy", "1 while an upstream passes its health checks", labels, (set) =>
    each(set, (u) => (u.healthy ? 1 : 0)),
  );
  gauge(
    "parley_upstream_breaker_state",
    "An upstream's circuit breaker: 1 for the current state (closed, open, half_open), 0 for the others",
    ["model", "upstream", "state"],
    (set) => {
      for (const e of catalog.entries)
        for (const u of e.provider.status().upstreams ?? [])
          for (const state of BREAKER_STATES)
            set({ model: e.config.id, upstream: u.url, state }, state === u.breaker ? 1 : 0);
    },
  );
  counter(
    "parley_upstream_retries_total",
    "Failed attempts tried again on the same upstream (connection reset before anything was sent)",
    labels,
    (set) => each(set, (u) => u.retries ?? 0),
  );
  counter(
    "parley_upstream_failovers_total",
    "Failed attempts on an upstream that moved on to another upstream of the same model",
    labels,
    (set) => each(set, (u) => u.failovers ?? 0),
  );
}

function registerStore({ gauge, counter }: Makers, sources: LiveSources): void {
  const stats = () => sources.recorder.stats?.();
  gauge("parley_usage_write_queue", "Usage records waiting to be written to the store", [], (set) =>
    set({}, stats()?.pending ?? 0),
  );
  counter("parley_usage_flush_errors_total", "Failed usage writes (retried later)", [], (set) =>
    set({}, stats()?.flush_errors ?? 0),
  );
  counter(
    "parley_usage_dropped_total",
    "Usage records dropped because the write buffer was full",
    [],
    (set) => set({}, stats()?.dropped ?? 0),
  );
  const batches = sources.batches;
  if (!batches) return;
  gauge(
    "parley_batches",
    "Message batches in the store by processing status (in_progress, canceling, ended)",
    ["processing_status"],
    async (set) => {
      const counts = await batches.countByStatus();
      for (const status of ["in_progress", "canceling", "ended"])
        set({ processing_status: status }, counts[status] ?? 0);
    },
  );
  counter(
    "parley_batch_requests_total",
    "Batch requests this instance's worker ended, by result type",
    ["result"],
    (set) => {
      for (const result of ["succeeded", "errored", "canceled", "expired"])
        set({ result }, batches.results?.[result] ?? 0);
    },
  );
}
