import { createParser } from "eventsource-parser";
import type { OpenAIModelConfig } from "../../config/index.ts";
import {
  ApiError,
  type EventBatches,
  inBatches,
  type MessageRequest,
  type StreamEvent,
} from "../../protocol/index.ts";
import type { Provider, ProviderDeps, ProviderLogger, ProviderStatus, StreamOptions } from "../provider.ts";
import {
  DEFAULT_HEALTH_CHECK_MS,
  poolFor,
  readAll,
  scrub,
  secretsOf,
  UpstreamFailure,
  type UpstreamPool,
  type UpstreamReply,
} from "../upstream/index.ts";
import { toOpenAIRequest } from "./request.ts";
import { fromOpenAIResponse } from "./response.ts";
import {
  type ChunkTranslatorOptions,
  OpenAIChunkTranslator,
  parseUpstreamJson,
  UpstreamStreamError,
} from "./stream.ts";
import { estimateTokens, UpstreamTokenizer } from "./tokens.ts";
import type { OpenAIResponse } from "./types.ts";

/** OpenAI's own limit; servers such as vLLM take more, configurable per model. */
const DEFAULT_MAX_STOP_SEQUENCES = 4;

/** A model served by one or more OpenAI-compatible servers (vLLM, llama-server, Ollama, LM Studio, …). */
export class OpenAIProvider implements Provider {
  readonly kind = "openai";
  readonly pool: UpstreamPool;
  private readonly config: OpenAIModelConfig;
  private readonly logger: ProviderLogger;
  private readonly headers: Record<string, string>;
  private readonly tokenizer: UpstreamTokenizer;
  private readonly secrets: string[];
  private reportsStopReason = false;

  constructor(config: OpenAIModelConfig, deps: ProviderDeps) {
    this.config = config;
    this.logger = deps.logger;
    this.pool = poolFor(config, deps.logger);
    this.secrets = secretsOf(config);
    this.headers = {
      "content-type": "application/json",
      ...(config.api_key ? { authorization: `Bearer ${config.api_key}` } : {}),
      ...config.headers,
    };
    this.tokenizer = new UpstreamTokenizer(this.pool, this.headers);
  }

  async start(): Promise<void> {
    this.pool.startHealthChecks(this.config.health_check_ms ?? DEFAULT_HEALTH_CHECK_MS, () => ({
      method: "GET",
      path: "/models",
      headers: this.headers,
      awaitFirstChunk: false,
    }));
  }

  status(): ProviderStatus {
    return this.pool.status();
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  stream(req: MessageRequest, options: StreamOptions): EventBatches {
    return inBatches(this.batches(req, options));
  }

  /** The reply's events, a batch per read of the upstream's reply (one for a reply not streamed). */
  private async *batches(
    req: MessageRequest,
    { signal, requestId }: StreamOptions,
  ): AsyncGenerator<readonly StreamEvent[]> {
    const body = toOpenAIRequest(req, this.translateOptions());
    const options: ChunkTranslatorOptions = {
      model: req.model,
      apiVersion: req.context.apiVersion,
      stopSequences: req.stop_sequences,
      estimatedInputTokens: estimateTokens(body),
      tools: req.tools,
    };
    const reply = await this.pool.send(
      () => ({
        method: "POST",
        path: "/chat/completions",
        headers: this.headers,
        body: JSON.stringify(body),
        awaitFirstChunk: req.stream,
      }),
      { signal, requestId },
    );
    const t = new OpenAIChunkTranslator(options);
    try {
      if (req.stream) {
        // Inlined rather than `yield*` from a helper generator: one generator per event, not two.
        const data: string[] = [];
        const parser = createParser({ onEvent: (e) => data.push(e.data) });
        const decoder = new TextDecoder();
        let sawDone = false;
        let tail: StreamEvent[];
        try {
          for await (const bytes of reply.body) {
            parser.feed(decoder.decode(bytes, { stream: true }));
            const batch: StreamEvent[] = [];
            try {
              for (let i = 0; i < data.length; i++) {
                const d = data[i] as string;
                if (d === "[DONE]" || d.trim() === "[DONE]") sawDone = true;
                else if (!sawDone && !t.done) for (const event of t.pushData(d)) batch.push(event);
              }
            } catch (err) {
              // What the read gave before a broken chunk still goes out (and is counted), then the error.
              if (batch.length > 0) yield batch;
              throw err;
            }
            data.length = 0;
            if (batch.length > 0) yield batch;
            if (t.done) break;
          }
          tail = t.end(sawDone);
        } catch (err) {
          reply.finish(err instanceof ApiError && err.status === 499 ? "cancelled" : "failed");
          throw this.midStream(err, reply, requestId);
        }
        reply.finish("ok");
        this.learn(t);
        if (tail.length > 0) yield tail;
      } else {
        const res = await this.readJson<OpenAIResponse>(reply, requestId);
        let events: StreamEvent[];
        try {
          events = fromOpenAIResponse(res, options, t);
        } catch (err) {
          throw this.midStream(err, reply, requestId);
        }
        this.learn(t);
        if (events.length > 0) yield events;
      }
    } finally {
      this.noteToolCalls(t, requestId);
      reply.finish("cancelled");
    }
  }

  async countTokens(req: MessageRequest, { signal, requestId }: StreamOptions): Promise<number> {
    const body = toOpenAIRequest({ ...req, stream: false }, this.translateOptions());
    const mode = this.config.tokenize ?? "auto";
    if (mode !== "estimate") {
      const n = await this.tokenizer.count(body, { signal, requestId });
      if (n !== undefined) return n;
      if (mode === "upstream") {
        throw new ApiError(
          500,
          "api_error",
          `The upstream of model ${this.config.id} has no tokenizer endpoint`,
        );
      }
    }
    return estimateTokens(body);
  }

  /**
   * Stop sequences go upstream only once the upstream has shown that it names the one it matched
   * (vLLM's `stop_reason`); otherwise Parley matches them itself, since an upstream that strips
   * the sequence without saying so would turn `stop_sequence` into `end_turn`.
   */
  private translateOptions() {
    const max = this.config.max_stop_sequences ?? DEFAULT_MAX_STOP_SEQUENCES;
    return {
      model: this.config.upstream_model ?? this.config.id,
      maxStopSequences: this.reportsStopReason ? max : 0,
      topK: this.config.top_k ?? true,
    };
  }

  private learn(t: OpenAIChunkTranslator): void {
    if (t.reportsStopReason) this.reportsStopReason = true;
  }

  private noteToolCalls(t: OpenAIChunkTranslator, requestId: string): void {
    if (t.repairedToolCalls > 0)
      this.logger.info(
        { model: this.config.id, requestId, repaired: t.repairedToolCalls },
        "repaired the JSON of the upstream's tool call",
      );
    for (const r of t.rejectedToolCalls)
      this.logger.warn(
        { model: this.config.id, requestId, tool: r.name, reason: r.reason },
        "upstream tool call had invalid arguments; sent as text instead",
      );
  }

  private async readJson<T>(reply: UpstreamReply, requestId: string): Promise<T> {
    try {
      return parseUpstreamJson<T>(await readAll(reply));
    } catch (err) {
      throw this.midStream(err, reply, requestId);
    }
  }

  /** A failure after the reply was committed: logged with details, sent to the client without them. */
  private midStream(err: unknown, reply: UpstreamReply | undefined, requestId: string): unknown {
    if (err instanceof ApiError && err.status === 499) return err;
    const detail =
      err instanceof UpstreamStreamError ? err.detail : err instanceof Error ? err.message : String(err);
    this.logger.warn(
      {
        model: this.config.id,
        upstream: reply?.upstream.label,
        requestId,
        error: scrub(detail, this.secrets),
      },
      "upstream failed mid-reply",
    );
    if (err instanceof UpstreamFailure && err.kind === "idle_timeout") {
      return new ApiError(
        504,
        "timeout_error",
        `The upstream of model ${this.config.id} went silent mid-reply`,
      );
    }
    if (err instanceof ApiError) return err;
    return new ApiError(500, "api_error", `The upstream of model ${this.config.id} failed mid-reply`);
  }
}
