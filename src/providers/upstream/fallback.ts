import {
  ApiError,
  type EventBatches,
  type EventOrBatch,
  eventsOrBatches,
  inBatches,
  isBatch,
  type MessageRequest,
  type StreamEvent,
} from "../../protocol/index.ts";
import type {
  Provider,
  ProviderLogger,
  ProviderStatus,
  RelayedReply,
  RelayingProvider,
  StreamOptions,
} from "../provider.ts";
import { relayFromEvents } from "./relay-events.ts";

/** Finds another model's provider by id, at request time. */
export type ModelLookup = (id: string) => Provider | undefined;

/** Failures another model might not have: rate limits, overload, timeouts, server errors. */
const worthFallingBack = (err: unknown) =>
  err instanceof ApiError && err.status !== 499 && (err.status === 429 || err.status >= 500);

const relays = (p: Provider): p is RelayingProvider => typeof (p as { relay?: unknown }).relay === "function";

/**
 * A model with `fallbacks`: when every upstream of the model fails before the reply started,
 * the request goes to the fallback models in order. Fallbacks are not transitive: a fallback's
 * own fallbacks are not tried, so cycles cannot loop.
 */
export class FallbackProvider implements Provider {
  readonly kind: string;
  readonly primary: Provider;
  relay?: (request: MessageRequest, options: StreamOptions) => Promise<RelayedReply>;
  private readonly fallbacks: string[];
  private readonly lookup: ModelLookup;
  private readonly logger: ProviderLogger;

  constructor(primary: Provider, fallbacks: string[], lookup: ModelLookup, logger: ProviderLogger) {
    this.kind = primary.kind;
    this.primary = primary;
    this.fallbacks = fallbacks;
    this.lookup = lookup;
    this.logger = logger;
    if (relays(primary)) this.relay = (req, opts) => this.relayChain(req, opts);
  }

  status(): ProviderStatus {
    return this.primary.status();
  }

  start(): Promise<void> {
    return this.primary.start?.() ?? Promise.resolve();
  }

  close(): Promise<void> {
    return this.primary.close?.() ?? Promise.resolve();
  }

  countTokens(request: MessageRequest, options: StreamOptions): Promise<number> {
    return this.primary.countTokens(request, options);
  }

  stream(request: MessageRequest, options: StreamOptions): EventBatches {
    return inBatches(this.batches(request, options));
  }

  /** The chosen model's reply, in its batches when it hands them on (one event each otherwise). */
  private async *batches(
    request: MessageRequest,
    options: StreamOptions,
  ): AsyncGenerator<readonly StreamEvent[]> {
    const chain = this.chain();
    for (let i = 0; i < chain.length; i++) {
      const it = eventsOrBatches(chain[i].provider.stream(request, options))[Symbol.asyncIterator]();
      let next: IteratorResult<EventOrBatch>;
      try {
        next = await it.next();
      } catch (err) {
        if (i === chain.length - 1 || !worthFallingBack(err)) throw err;
        this.note(chain[i].id, chain[i + 1].id, err, options);
        continue;
      }
      try {
        while (!next.done) {
          yield isBatch(next.value) ? next.value : [next.value];
          next = await it.next();
        }
      } finally {
        // A consumer that stopped early (a client gone) stops the model's reply too.
        if (!next.done) await it.return?.();
      }
      return;
    }
  }

  private async relayChain(request: MessageRequest, options: StreamOptions): Promise<RelayedReply> {
    const chain = this.chain();
    for (let i = 0; ; i++) {
      const p = chain[i].provider;
      try {
        return relays(p)
          ? await p.relay(request, options)
          : await relayFromEvents(p.stream(request, options), request);
      } catch (err) {
        if (i === chain.length - 1 || !worthFallingBack(err)) throw err;
        this.note(chain[i].id, chain[i + 1].id, err, options);
      }
    }
  }

  private chain(): { id: string; provider: Provider }[] {
    const rest = this.fallbacks.flatMap((id) => {
      const p = this.lookup(id);
      if (!p) return [];
      return [{ id, provider: p instanceof FallbackProvider ? p.primary : p }];
    });
    return [{ id: "primary", provider: this.primary }, ...rest];
  }

  private note(from: string, to: string, err: unknown, options: StreamOptions): void {
    const e = err as ApiError;
    this.logger.warn(
      { requestId: options.requestId, from, to, status: e.status, type: e.type },
      "model failed before replying; trying its fallback",
    );
  }
}

/** Wraps `provider` when the model lists fallbacks. */
export function withFallbacks(
  provider: Provider,
  fallbacks: string[] | undefined,
  lookup: ModelLookup,
  logger: ProviderLogger,
): Provider {
  return fallbacks && fallbacks.length > 0
    ? new FallbackProvider(provider, fallbacks, lookup, logger)
    : provider;
}
