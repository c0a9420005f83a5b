import type { Registry } from "prom-client";
import type { LimitHit } from "../limits/index.ts";
import { KeyedCounter, KeyedHistogram } from "./keyed-series.ts";

/** One finished request as the message service saw it. */
export interface RequestObservation {
  /** The catalogue id (aliases resolved), or `other` when the name is not in the catalogue. */
  model: string;
  status: number;
  errorType: string | null;
  streamed: boolean;
  /** Run by the batch worker: counted, but kept out of the latency histograms (it waits for idle slots). */
  batch: boolean;
  latencyMs?: number;
  ttftMs?: number | null;
  tokens?: { input: number; output: number; cacheRead: number; cacheCreation: number };
}

const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const RATE_BUCKETS = [1, 5, 10, 20, 40, 60, 100, 150, 250, 500, 1000, 2500];

/**
 * The series the request path increments. Every label value is bounded: catalogue model ids
 * (`other` for the rest), HTTP statuses, Anthropic error types, limit dimensions. Each call gives
 * its label values in `labelNames` order.
 */
export class RequestMetrics {
  private readonly requests: KeyedCounter<"model" | "status" | "error_type">;
  private readonly overloaded: KeyedCounter<"model">;
  private readonly latency: KeyedHistogram<"model" | "streamed">;
  private readonly ttft: KeyedHistogram<"model" | "streamed">;
  private readonly tokens: KeyedCounter<"model" | "type">;
  private readonly rate: KeyedHistogram<"model">;
  private readonly limited: KeyedCounter<"limit" | "scope">;

  constructor(registry: Registry) {
    this.requests = new KeyedCounter({
      name: "parley_requests_total",
      help: "Message requests by model, HTTP status and error type, refusals at the edge (key, limits, body) included",
      labelNames: ["model", "status", "error_type"],
      registry,
    });
    this.overloaded = new KeyedCounter({
      name: "parley_overloaded_total",
      help: "529 overloaded_error replies by model (slots and queue full, or the backend overloaded)",
      labelNames: ["model"],
      registry,
    });
    this.latency = new KeyedHistogram({
      name: "parley_request_duration_seconds",
      help: "Time from the request reaching the message service to the last byte (interactive requests)",
      buckets: LATENCY_BUCKETS,
      labelNames: ["model", "streamed"],
      registry,
    });
    this.ttft = new KeyedHistogram({
      name: "parley_time_to_first_token_seconds",
      help: "Time to the first content delta (interactive requests that produced one)",
      buckets: TTFT_BUCKETS,
      labelNames: ["model", "streamed"],
      registry,
    });
    this.tokens = new KeyedCounter({
      name: "parley_tokens_total",
      help: "Tokens by model and type (input, output, cache_read, cache_creation), as billed in usage",
      labelNames: ["model", "type"],
      registry,
    });
    this.rate = new KeyedHistogram({
      name: "parley_generation_tokens_per_second",
      help: "Output tokens per second after the first token, per interactive request with two or more output tokens",
      buckets: RATE_BUCKETS,
      labelNames: ["model"],
      registry,
    });
    this.limited = new KeyedCounter({
      name: "parley_rate_limited_total",
      help: "429 rate_limit_error replies by the limit hit (requests, input, output, tokens, monthly) and whose it was",
      labelNames: ["limit", "scope"],
      registry,
    });
  }

  request(r: RequestObservation): void {
    const { model } = r;
    this.requests.inc([model, r.status, r.errorType ?? "none"]);
    if (r.status === 529) this.overloaded.inc([model]);
    if (r.tokens) {
      const t = r.tokens;
      if (t.input) this.tokens.inc([model, "input"], t.input);
      if (t.output) this.tokens.inc([model, "output"], t.output);
      if (t.cacheRead) this.tokens.inc([model, "cache_read"], t.cacheRead);
      if (t.cacheCreation) this.tokens.inc([model, "cache_creation"], t.cacheCreation);
    }
    if (r.batch || r.latencyMs === undefined) return;
    const series = [model, r.streamed ? "true" : "false"];
    this.latency.observe(series, r.latencyMs / 1000);
    if (r.ttftMs === null || r.ttftMs === undefined) return;
    this.ttft.observe(series, r.ttftMs / 1000);
    const generating = (r.latencyMs - r.ttftMs) / 1000;
    const output = r.tokens?.output ?? 0;
    // The first token arrives at TTFT; the rest are what the generation rate measures.
    if (output > 1 && generating > 0) this.rate.observe([model], (output - 1) / generating);
  }

  rateLimited(hit: LimitHit): void {
    this.limited.inc([hit.dimension, hit.scope]);
  }
}
