import { Counter, Histogram, type Registry } from "prom-client";
import type { LimitHit } from "../limits/index.ts";

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
 * (`other` for the rest), HTTP statuses, Anthropic error types, limit dimensions.
 */
export class RequestMetrics {
  private readonly requests: Counter<"model" | "status" | "error_type">;
  private readonly overloaded: Counter<"model">;
  private readonly latency: Histogram<"model" | "streamed">;
  private readonly ttft: Histogram<"model" | "streamed">;
  private readonly tokens: Counter<"model" | "type">;
  private readonly rate: Histogram<"model">;
  private readonly limited: Counter<"limit" | "scope">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: "parley_requests_total",
      help: "Message requests by model, HTTP status and error type, refusals at the edge (key, limits, body) included",
      labelNames: ["model", "status", "error_type"],
      registers,
    });
    this.overloaded = new Counter({
      name: "parley_overloaded_total",
      help: "529 overloaded_error replies by model (slots and queue full, or the backend overloaded)",
      labelNames: ["model"],
      registers,
    });
    this.latency = new Histogram({
      name: "parley_request_duration_seconds",
      help: "Time from the request reaching the message service to the last byte (interactive requests)",
      labelNames: ["model", "streamed"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.ttft = new Histogram({
      name: "parley_time_to_first_token_seconds",
      help: "Time to the first content delta (interactive requests that produced one)",
      labelNames: ["model", "streamed"],
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.tokens = new Counter({
      name: "parley_tokens_total",
      help: "Tokens by model and type (input, output, cache_read, cache_creation), as billed in usage",
      labelNames: ["model", "type"],
      registers,
    });
    this.rate = new Histogram({
      name: "parley_generation_tokens_per_second",
      help: "Output tokens per second after the first token, per interactive request with two or more output tokens",
      labelNames: ["model"],
      buckets: RATE_BUCKETS,
      registers,
    });
    this.limited = new Counter({
      name: "parley_rate_limited_total",
      help: "429 rate_limit_error replies by the limit hit (requests, input, output, tokens, monthly) and whose it was",
      labelNames: ["limit", "scope"],
      registers,
    });
  }

  request(r: RequestObservation): void {
    const { model } = r;
    this.requests.inc({ model, status: r.status, error_type: r.errorType ?? "none" });
    if (r.status === 529) this.overloaded.inc({ model });
    if (r.tokens) {
      const t = r.tokens;
      if (t.input) this.tokens.inc({ model, type: "input" }, t.input);
      if (t.output) this.tokens.inc({ model, type: "output" }, t.output);
      if (t.cacheRead) this.tokens.inc({ model, type: "cache_read" }, t.cacheRead);
      if (t.cacheCreation) this.tokens.inc({ model, type: "cache_creation" }, t.cacheCreation);
    }
    if (r.batch || r.latencyMs === undefined) return;
    const streamed = r.streamed ? "true" : "false";
    this.latency.observe({ model, streamed }, r.latencyMs / 1000);
    if (r.ttftMs === null || r.ttftMs === undefined) return;
    this.ttft.observe({ model, streamed }, r.ttftMs / 1000);
    const generating = (r.latencyMs - r.ttftMs) / 1000;
    const output = r.tokens?.output ?? 0;
    // The first token arrives at TTFT; the rest are what the generation rate measures.
    if (output > 1 && generating > 0) this.rate.observe({ model }, (output - 1) / generating);
  }

  rateLimited(hit: LimitHit): void {
    this.limited.inc({ limit: hit.dimension, scope: hit.scope });
  }
}
