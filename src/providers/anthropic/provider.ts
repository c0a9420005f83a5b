import { createParser } from "eventsource-parser";
import type { AnthropicModelConfig } from "../../config/index.ts";
import {
  ApiError,
  encodeEvent,
  type MessageRequest,
  SSE_HEADERS,
  type StreamEvent,
} from "../../protocol/index.ts";
import type {
  ProviderDeps,
  ProviderLogger,
  ProviderStatus,
  RelayedReply,
  RelayingProvider,
  StreamOptions,
} from "../provider.ts";
import {
  DEFAULT_HEALTH_CHECK_MS,
  poolFor,
  readAll,
  scrub,
  secretsOf,
  type Upstream,
  type UpstreamCall,
  type UpstreamPool,
  type UpstreamReply,
} from "../upstream/index.ts";
import { type RelayUsage, SseFrameReader } from "./sse.ts";

/** Fields of a create request that count_tokens rejects. */
const CREATE_ONLY = [
  "max_tokens",
  "stream",
  "stop_sequences",
  "metadata",
  "service_tier",
  "temperature",
  "top_p",
  "top_k",
  "container",
  "inference_geo",
  "diagnostics",
];

/**
 * The Anthropic API (or a compatible server) behind Parley's own keys: requests go out under
 * the upstream's key with the client's `anthropic-version` and `anthropic-beta` (minus the
 * betas this upstream is configured to drop), and replies stream back byte-for-byte.
 */
export class AnthropicProvider implements RelayingProvider {
  readonly kind = "anthropic";
  readonly pool: UpstreamPool;
  private readonly config: AnthropicModelConfig;
  private readonly logger: ProviderLogger;
  private readonly secrets: string[];

  constructor(config: AnthropicModelConfig, deps: ProviderDeps) {
    this.config = config;
    this.logger = deps.logger;
    this.pool = poolFor(config, deps.logger);
    this.secrets = secretsOf(config);
  }

  async start(): Promise<void> {
    this.pool.startHealthChecks(this.config.health_check_ms ?? DEFAULT_HEALTH_CHECK_MS, (u) => ({
      method: "GET",
      path: apiPath(u, "/models"),
      fromOrigin: true,
      headers: this.headers("2023-06-01", []),
      awaitFirstChunk: false,
    }));
  }

  status(): ProviderStatus {
    return this.pool.status();
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  async relay(req: MessageRequest, { signal, requestId }: StreamOptions): Promise<RelayedReply> {
    const reply = await this.send(req, req.stream, { signal, requestId });
    if (!req.stream) {
      const text = await this.readOrFail(reply, requestId);
      return {
        status: 200,
        headers: { "content-type": "application/json" },
        body: single(Buffer.from(text)),
        usage: Promise.resolve(usageOf(text)),
      };
    }
    const reader = new SseFrameReader();
    let settle: (u: RelayUsage | undefined) => void = () => {};
    const usage = new Promise<RelayUsage | undefined>((r) => {
      settle = r;
    });
    const body = this.relayFrames(reply, reader, requestId, (clientLeft) =>
      settle(reader.settledUsage(clientLeft)),
    );
    return { status: 200, headers: { ...SSE_HEADERS }, body, usage };
  }

  /** The reply as parsed events (for callers that need events rather than bytes). */
  async *stream(req: MessageRequest, { signal, requestId }: StreamOptions): AsyncGenerator<StreamEvent> {
    const reply = await this.send(req, true, { signal, requestId });
    const events: StreamEvent[] = [];
    const parser = createParser({
      onEvent: (e) => {
        const event = JSON.parse(e.data) as StreamEvent;
        if (event.type === "message_start") event.message.model = req.model;
        events.push(event);
      },
    });
    const decoder = new TextDecoder();
    let sawStop = false;
    try {
      for await (const bytes of reply.body) {
        parser.feed(decoder.decode(bytes, { stream: true }));
        for (const e of events.splice(0)) {
          sawStop ||= e.type === "message_stop";
          yield e;
        }
      }
      if (!sawStop) throw new Error("stream ended without message_stop");
    } catch (err) {
      throw this.midStream(err, reply, requestId);
    } finally {
      reply.finish("cancelled");
    }
  }

  async countTokens(req: MessageRequest, { signal, requestId }: StreamOptions): Promise<number> {
    const params: Record<string, unknown> = { ...req.params, model: this.upstreamModel(req) };
    for (const k of CREATE_ONLY) delete params[k];
    const reply = await this.pool.send(
      (u) => ({
        method: "POST",
        path: apiPath(u, "/messages/count_tokens"),
        fromOrigin: true,
        headers: this.headers(req.context.rawApiVersion, req.context.betas),
        body: JSON.stringify(params),
        awaitFirstChunk: false,
      }),
      { signal, requestId },
    );
    const n = (JSON.parse(await this.readOrFail(reply, requestId)) as { input_tokens?: unknown })
      .input_tokens;
    if (typeof n !== "number")
      throw new ApiError(500, "api_error", "The upstream sent a malformed token count");
    return n;
  }

  private send(req: MessageRequest, stream: boolean, ctx: StreamOptions): Promise<UpstreamReply> {
    const body = JSON.stringify({
      ...req.params,
      model: this.upstreamModel(req),
      max_tokens: req.max_tokens,
      stream,
    });
    const headers = this.headers(req.context.rawApiVersion, req.context.betas);
    return this.pool.send(
      (u): UpstreamCall => ({
        method: "POST",
        path: apiPath(u, "/messages"),
        fromOrigin: true,
        headers,
        body,
        awaitFirstChunk: stream,
      }),
      ctx,
    );
  }

  private upstreamModel(req: MessageRequest): string {
    return this.config.upstream_model ?? req.params.model;
  }

  private headers(version: string, betas: string[]): Record<string, string> {
    const drop = new Set(this.config.drop_betas ?? []);
    const kept = betas.filter((b) => !drop.has(b));
    return {
      "content-type": "application/json",
      "anthropic-version": version,
      ...(kept.length ? { "anthropic-beta": kept.join(",") } : {}),
      ...(this.config.api_key ? { "x-api-key": this.config.api_key } : {}),
      ...this.config.headers,
    };
  }

  private async *relayFrames(
    reply: UpstreamReply,
    reader: SseFrameReader,
    requestId: string,
    done: (clientLeft: boolean) => void,
  ): AsyncGenerator<Uint8Array> {
    let clientLeft = false;
    try {
      for await (const bytes of reply.body) {
        const frames = reader.push(bytes);
        if (frames) yield frames;
      }
      if (!reader.sawStop) throw new Error("stream ended without message_stop");
    } catch (err) {
      const e = this.midStream(err, reply, requestId);
      clientLeft = e.status === 499;
      if (!clientLeft)
        yield Buffer.from(encodeEvent({ type: "error", error: { type: e.type, message: e.message } }));
    } finally {
      reply.finish("cancelled");
      done(clientLeft);
    }
  }

  private async readOrFail(reply: UpstreamReply, requestId: string): Promise<string> {
    try {
      return await readAll(reply);
    } catch (err) {
      throw this.midStream(err, reply, requestId);
    }
  }

  private midStream(err: unknown, reply: UpstreamReply, requestId: string): ApiError {
    if (err instanceof ApiError && err.status === 499) return err;
    this.logger.warn(
      {
        model: this.config.id,
        upstream: reply.upstream.label,
        requestId,
        error: scrub(err instanceof Error ? err.message : String(err), this.secrets),
      },
      "upstream failed mid-reply",
    );
    return new ApiError(500, "api_error", `The upstream of model ${this.config.id} failed mid-reply`);
  }
}

/** `/v1/<path>` under the base URL, whether or not the base URL already ends in `/v1`. */
function apiPath(u: Upstream, path: string): string {
  return `${u.rootPath}/v1${path}`;
}

async function* single(chunk: Uint8Array): AsyncGenerator<Uint8Array> {
  yield chunk;
}

function usageOf(text: string): RelayUsage | undefined {
  try {
    const u = (JSON.parse(text) as { usage?: RelayUsage }).usage;
    return u && typeof u.input_tokens === "number" ? u : undefined;
  } catch {
    return undefined;
  }
}
