import { collectDefaultMetrics, Registry } from "prom-client";
import { type LiveSources, registerLiveState } from "./live-state.ts";
import { RequestMetrics } from "./request-metrics.ts";

/**
 * One server instance's metrics: its own registry (several servers may share a process, as the
 * tests do), the request-path series, process metrics with a `parley_` prefix, and series read
 * from live state at scrape time.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests: RequestMetrics;

  constructor() {
    this.requests = new RequestMetrics(this.registry);
    collectDefaultMetrics({ register: this.registry, prefix: "parley_" });
  }

  /** Adds the scrape-time series over the server's catalogue, usage writer and batch store. */
  watch(sources: LiveSources): void {
    registerLiveState(this.registry, sources);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}
