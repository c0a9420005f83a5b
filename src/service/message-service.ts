import type { Principal } from "../auth/index.ts";
import { type Limiter, limitHitOf } from "../limits/index.ts";
import type { RequestMetrics } from "../metrics/index.ts";
import {
  ApiError,
  foldStream,
  type Message,
  type MessageCreateParams,
  type MessageRequest,
  type RequestContext,
  type StreamEvent,
  type ThinkingSigner,
  toApiError,
  toMessageRequest,
} from "../protocol/index.ts";
import { isRelaying, type ProviderLogger, type RelayedReply } from "../providers/index.ts";
import type { BackgroundSlot } from "../router/index.ts";
import {
  checkCapabilities,
  clampMaxTokens,
  type ModelCatalog,
  type ModelEntry,
  resolveModel,
  signsThinking,
} from "../router/index.ts";
import type { UsageRecorder } from "../store/index.ts";
import type { McpConnector } from "../tools/index.ts";
import { generate } from "./generate.ts";
import { UsageTally } from "./usage-tally.ts";

/** What the message service needs, built once at start. */
export interface MessageServiceDeps {
  catalog: ModelCatalog;
  limiter: Limiter;
  recorder: UsageRecorder;
  signer: ThinkingSigner;
  /** The MCP connector (`mcp_servers`) for backends that do not run it themselves. */
  mcp: McpConnector;
  /** Generations in flight, aborted when a graceful shutdown runs out of time. */
  inflight: Set<AbortController>;
  /** Resolves `{type: "file", file_id}` sources before the provider sees the request. */
  files?: FileSourceResolver;
  /** Counters and histograms of this server instance (absent when `metrics.enabled` is false). */
  metrics?: RequestMetrics;
}

/** Turns file references into what the chosen backend can read (see src/files). */
export interface FileSourceResolver {
  resolve(request: MessageRequest, principal: Principal, entry: ModelEntry): Promise<MessageRequest>;
}

/**
 * A batch request gave its slot up to interactive load before it finished; the worker runs it
 * again later. An overloaded error, so anything that does not know batches treats it as a retry.
 */
export class PreemptedError extends ApiError {
  constructor() {
    super(529, "overloaded_error", "Batch request yielded its slot to interactive requests");
  }
}

/** A request checked against the protocol and routed: what the model will be asked. */
export interface PreparedMessage {
  entry: ModelEntry;
  request: MessageRequest;
  principal: Principal;
}

/** Who asks and how to stop: the caller's side of one run. */
export interface MessageCall {
  requestId: string;
  /** Aborted when the client leaves (HTTP) or the batch is canceled. */
  signal: AbortSignal;
  log: ProviderLogger;
  /** The client's session id, when it sends one (prompt-cache affinity). */
  sessionId?: string;
  /**
   * Set by the batch worker: the request runs at background priority (idle slots only, preempted
   * by interactive load) and its usage row carries the batch id and `service_tier: "batch"`.
   */
  batch?: { id: string };
}

/**
 * How a caller delivers what is not a folded Message: an HTTP route writes SSE or relayed bytes,
 * a batch worker folds or parses them. Both must feed the tally so usage is recorded.
 */
export interface ReplyChannel {
  /** A `stream: true` request: send the events as they come. */
  sendEvents(events: AsyncIterable<StreamEvent>, tally: UsageTally): Promise<void>;
  /** An upstream that relays bytes: pass them on, then read `relayed.usage` into the tally. */
  sendRelayed(relayed: RelayedReply, tally: UsageTally): Promise<void>;
}

/** What a run ended with, for the caller and the usage record. */
export interface MessageOutcome {
  /** The folded reply of a non-streaming, non-relayed request. */
  message?: Message;
  status: number;
  tally: UsageTally;
  /** The run ended in a thrown error, which the caller logs and answers. */
  thrown?: boolean;
}

/**
 * The one path every reply takes after the HTTP edge: protocol → router → gate → provider
 * (wrapped by request-level features in `generate`) → stream or fold → usage record and charge.
 * The Fastify route and the batch worker both call it, so both are counted the same way.
 */
export class MessageService {
  private readonly deps: MessageServiceDeps;

  constructor(deps: MessageServiceDeps) {
    this.deps = deps;
  }

  /** The rate limits and budgets an HTTP request passes at the edge (hooks.ts), for the batch worker. */
  async admit(principal: Principal): Promise<Record<string, string>> {
    try {
      return await this.deps.limiter.admit(principal);
    } catch (err) {
      this.countRefusal(err);
      throw err;
    }
  }

  /** A 429 from the limiter, for the 429s-by-limit series (the HTTP hooks call it too). */
  countRefusal(err: unknown): void {
    const hit = limitHitOf(err);
    if (hit) this.deps.metrics?.rateLimited(hit);
  }

  /**
   * A message request the HTTP edge refused before it got here (key, limits, body, schema),
   * counted in the same series as the service's own refusals; `body` is whatever was parsed.
   */
  countEdgeRefusal(body: unknown, err: ApiError): void {
    const { model, stream } = (typeof body === "object" && body !== null ? body : {}) as {
      model?: unknown;
      stream?: unknown;
    };
    this.countRefused(typeof model === "string" ? model : undefined, stream === true, err);
  }

  /** protocol → router: normalises a validated body and checks the principal may run it here. */
  prepare(body: MessageCreateParams, context: RequestContext, principal: Principal): PreparedMessage {
    try {
      return this.check(body, context, principal);
    } catch (err) {
      this.countRefused(body.model, !!body.stream, toApiError(err));
      throw err;
    }
  }

  private countRefused(model: string | undefined, streamed: boolean, e: ApiError): void {
    this.deps.metrics?.request({
      model: (model !== undefined && this.deps.catalog.find(model)?.config.id) || "other",
      status: e.status,
      errorType: e.type,
      streamed,
      batch: false,
    });
  }

  private check(body: MessageCreateParams, context: RequestContext, principal: Principal): PreparedMessage {
    const normalised = toMessageRequest(body, context);
    const entry = resolveModel(this.deps.catalog, normalised.model, principal);
    checkCapabilities(entry, normalised);
    const verified = signsThinking(entry)
      ? { ...normalised, messages: this.deps.signer.verifiedTurns(normalised.messages) }
      : normalised;
    return { entry, request: clampMaxTokens(entry, verified), principal };
  }

  /**
   * Runs a prepared request to its end. Errors before any output are thrown as `ApiError`s;
   * whatever happens, one usage record is written and the tokens are charged.
   */
  async run(prepared: PreparedMessage, call: MessageCall, channel: ReplyChannel): Promise<MessageOutcome> {
    const { entry } = prepared;
    const started = performance.now();
    const startedAt = new Date();
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    if (call.signal.aborted) abort.abort();
    else call.signal.addEventListener("abort", onAbort, { once: true });
    this.deps.inflight.add(abort);
    const tally = new UsageTally();
    const outcome: MessageOutcome = { status: 200, tally };
    let release: (() => void) | undefined;
    let slot: BackgroundSlot | undefined;
    try {
      const request = this.deps.files
        ? await this.deps.files.resolve(prepared.request, prepared.principal, entry)
        : prepared.request;
      if (call.batch) {
        slot = await entry.gate.acquireBackground(abort.signal);
        release = slot.release;
        if (slot.preempted.aborted) abort.abort();
        else slot.preempted.addEventListener("abort", onAbort, { once: true });
      } else {
        release = await entry.gate.acquire(abort.signal);
      }
      const options = { signal: abort.signal, requestId: call.requestId, sessionId: call.sessionId };
      if (isRelaying(entry.provider)) {
        const relayed = await entry.provider.relay(request, options);
        outcome.status = relayed.status;
        await channel.sendRelayed(relayed, tally);
        return outcome;
      }
      const events = generate(entry, request, options, {
        mcp: this.deps.mcp,
        principal: prepared.principal,
        onUsage: (usage) => tally.fromUsage(usage),
      });
      if (request.stream) {
        await channel.sendEvents(events, tally);
        return outcome;
      }
      outcome.message = await foldStream(events, (event) => tally.observe(event));
      if (slot?.preempted.aborted) throw new PreemptedError();
      if (call.batch) outcome.message.usage.service_tier = "batch";
      tally.observeMessage(outcome.message);
      return outcome;
    } catch (err) {
      const e = slot?.preempted.aborted ? new PreemptedError() : toApiError(err);
      outcome.status = e.status;
      if (abort.signal.aborted) tally.cutShort = true;
      tally.errorType = e.type;
      outcome.thrown = true; // the caller reports it (the HTTP error handler writes its log line)
      // A client that left (or a canceled batch) is not a failure: what the provider threw is the abort.
      if (!(e instanceof PreemptedError) && !abort.signal.aborted) logUnexpected(call.log, err);
      throw e;
    } finally {
      release?.();
      call.signal.removeEventListener("abort", onAbort);
      slot?.preempted.removeEventListener("abort", onAbort);
      this.deps.inflight.delete(abort);
      this.finish(prepared, call, outcome, { started, startedAt });
    }
  }

  /** The usage record, the token charge and the one log line of a finished request. */
  private finish(
    prepared: PreparedMessage,
    call: MessageCall,
    outcome: MessageOutcome,
    t: { started: number; startedAt: Date },
  ): void {
    const { entry, request, principal } = prepared;
    const { tally, status } = outcome;
    const billed = tally.billed();
    const sent = tally.statusFor(status);
    const ended = performance.now();
    const ttft = tally.firstDeltaAt === undefined ? null : tally.firstDeltaAt - t.started;
    this.deps.metrics?.request({
      model: entry.config.id,
      status: sent,
      errorType: tally.errorType,
      streamed: request.stream,
      batch: call.batch !== undefined,
      latencyMs: ended - t.started,
      ttftMs: ttft,
      tokens: {
        input: billed.input_tokens,
        output: billed.output_tokens,
        cacheRead: billed.cache_read_input_tokens,
        cacheCreation: billed.cache_creation_input_tokens,
      },
    });
    // Every field named, no spread: a spread in the middle of a literal makes V8 define each
    // later field through the runtime, six calls a request (bench:instructions).
    this.deps.recorder.record({
      request_id: call.requestId,
      key_id: principal.keyId,
      workspace_id: principal.workspaceId ?? null,
      model: entry.config.id,
      input_tokens: billed.input_tokens,
      output_tokens: billed.output_tokens,
      cache_creation_input_tokens: billed.cache_creation_input_tokens,
      cache_read_input_tokens: billed.cache_read_input_tokens,
      status: sent,
      error_type: tally.errorType,
      streamed: request.stream,
      latency_ms: Math.round(ended - t.started),
      ttft_ms: ttft === null ? null : Math.round(ttft),
      started_at: t.startedAt,
      batch_id: call.batch ? call.batch.id : undefined,
      service_tier: call.batch ? "batch" : undefined,
    });
    this.deps.limiter
      .charge(principal, { input_tokens: billed.input_tokens, output_tokens: billed.output_tokens })
      .catch((err) => call.log.warn({ err }, "charging tokens failed"));
    if (outcome.thrown) return;
    call.log.info(
      {
        model: entry.config.id,
        key: principal.name,
        status: sent,
        stream: request.stream,
        in: billed.input_tokens,
        out: billed.output_tokens,
        ms: Math.round(ended - t.started),
      },
      "message",
    );
  }
}

/** An `ApiError` is a reply Parley chose and is logged by whoever sends it; anything else keeps its stack. */
export function logUnexpected(log: ProviderLogger, err: unknown): void {
  if (err instanceof ApiError) return;
  log.error({ err }, "provider failed");
}
