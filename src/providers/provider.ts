import type { MessageRequest, StreamEvent, ThinkingSigner } from "../protocol/index.ts";

export interface ProviderStatus {
  available: boolean;
  /** Why the model cannot serve now, and what fixes it. */
  reason?: string;
  /** The window and output limit actually served, once known (a loaded local model). */
  contextWindow?: number;
  maxOutputTokens?: number;
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
   * `error` event.
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
