import type { MessageRequest, StreamEvent, ThinkingSigner } from "../protocol/index.ts";

export interface ProviderStatus {
  available: boolean;
  /** Why the model cannot serve now, and what fixes it. */
  reason?: string;
  /** The window and output limit actually served, once known (a loaded local model). */
  contextWindow?: number;
  maxOutputTokens?: number;
  /** A local model's load state; absent for backends that load nothing. */
  load?: LoadState;
  /** An upstream backend's base URLs, each with its health right now. */
  upstreams?: UpstreamHealth[];
  /** A local model's prompt tokens so far: KV state reused from a slot vs evaluated afresh (for metrics). */
  kv?: { reused_tokens: number; evaluated_tokens: number };
}

/** `not_loaded`: lazy and not asked for yet; `failed`: the last load failed (see `reason`). */
export type LoadState = "not_loaded" | "loading" | "loaded" | "failed";

export interface UpstreamHealth {
  /** The base URL as configured (origin and path; never a key). */
  url: string;
  /** False while health checks fail. */
  healthy: boolean;
  breaker: "closed" | "open" | "half_open";
  /** Requests sent to it and not finished. */
  in_flight: number;
  /** While ejected: time until it is tried again. */
  retry_in_ms: number;
  /** Failed attempts retried on this same upstream (after a connection reset), since start. */
  retries?: number;
  /** Failed attempts that moved on to another upstream, since start. */
  failovers?: number;
}

export interface StreamOptions {
  /** Aborted when the client disconnects or the server shuts down: stop generating at once. */
  signal: AbortSignal;
  /** Request id for logs. */
  requestId: string;
  /** The client's session (Claude Code's `X-Claude-Code-Session-Id`): keeps its conversation on one cache slot. */
  sessionId?: string;
}

export interface Provider {
  readonly kind: string;
  /**
   * The reply as Anthropic stream events. Errors before the first event are thrown as
   * `ApiError`s (they become HTTP errors); later ones are thrown too and become an SSE
   * `error` event. A provider whose events become ready in groups may return `EventBatches`
   * (protocol/event-batches.ts), which the SSE writer and the fold read a group at a time.
   */
  stream(request: MessageRequest, options: StreamOptions): AsyncIterable<StreamEvent>;
  /** Input tokens of the rendered prompt, the same number `usage.input_tokens` reports. */
  countTokens(request: MessageRequest, options: StreamOptions): Promise<number>;
  status(): ProviderStatus;
  /** Loads models, opens connections; called once at start (may be lazy). */
  start?(): Promise<void>;
  close?(): Promise<void>;
}

/**
 * A reply relayed byte-for-byte from an Anthropic-compatible upstream (no re-encoding).
 * Providers that can relay implement `relay`; the server prefers it over `stream`.
 */
export interface RelayedReply {
  status: number;
  headers: Record<string, string>;
  body: AsyncIterable<Uint8Array>;
  /**
   * Settles once `body` has been read: the usage the upstream reported, for records and limits.
   * When the reply ended early, `output_tokens` counts what was relayed until then, and
   * `cut_short` says the client left.
   */
  usage: Promise<
    | { input_tokens: number; output_tokens: number; cache_read_input_tokens?: number; cut_short?: boolean }
    | undefined
  >;
}

export interface RelayingProvider extends Provider {
  relay(request: MessageRequest, options: StreamOptions): Promise<RelayedReply>;
}

/** What a provider factory gets besides its model's config. */
export interface ProviderDeps {
  dataDir: string;
  /** Signs the thinking blocks local models return (the server verifies them when sent back). */
  signer: ThinkingSigner;
  logger: ProviderLogger;
}

export interface ProviderLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
