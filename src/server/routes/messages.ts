import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  ApiError,
  foldStream,
  type MessageCreateParams,
  MessageCreateParams as MessageCreateSchema,
  type MessageRequest,
  toApiError,
  toMessageRequest,
} from "../../protocol/index.ts";
import { isRelaying, type RelayedReply } from "../../providers/index.ts";
import {
  checkCapabilities,
  clampMaxTokens,
  type ModelEntry,
  resolveModel,
  signsThinking,
} from "../../router/index.ts";
import type { AppDeps } from "../deps.ts";
import { logUnknownFields, requestContext } from "../request-context.ts";
import { logStreamError, logUnexpected } from "../request-log.ts";
import { sendStream } from "../send-stream.ts";
import { UsageTally } from "../usage-tally.ts";

/** POST /v1/messages: protocol → router → provider → SSE or folded JSON → usage record. */
export async function messagesRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.post<{ Body: MessageCreateParams }>(
    "/v1/messages",
    { schema: { body: MessageCreateSchema, summary: "Create a message", tags: ["messages"] } },
    async (request, reply) => {
      logUnknownFields(request, request.body);
      const prepared = toMessageRequest(request.body, requestContext(request));
      const entry = resolveModel(deps.catalog, prepared.model, principalOf(request));
      checkCapabilities(entry, prepared);
      const req = signsThinking(entry)
        ? { ...prepared, messages: deps.signer.verifiedTurns(prepared.messages) }
        : prepared;
      return runMessage(deps, request, reply, entry, clampMaxTokens(entry, req));
    },
  );
}

const principalOf = (request: FastifyRequest) => {
  if (!request.principal) throw new ApiError(401, "authentication_error", "invalid x-api-key");
  return request.principal;
};

async function runMessage(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  entry: ModelEntry,
  req: MessageRequest,
): Promise<unknown> {
  const started = performance.now();
  const startedAt = new Date();
  const abort = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  deps.inflight.add(abort);
  const tally = new UsageTally();
  let status = 200;
  let thrown = false;
  let release: (() => void) | undefined;
  try {
    release = await entry.gate.acquire(abort.signal);
    const options = { signal: abort.signal, requestId: String(request.id) };
    if (isRelaying(entry.provider)) {
      const relayed = await entry.provider.relay(req, options);
      status = relayed.status;
      await sendRelayed(reply, relayed, request.rateHeaders, tally);
      return reply;
    }
    const events = entry.provider.stream(req, options);
    if (req.stream) {
      await sendStream(reply, events, {
        headers: { "request-id": String(request.id), ...request.rateHeaders },
        pingIntervalMs: deps.config.server.ping_interval_ms,
        signal: abort.signal,
        tally,
        onError: (err) => logStreamError(request, err),
      });
      return reply;
    }
    const message = await foldStream(events);
    tally.observeMessage(message);
    return message;
  } catch (err) {
    const e = toApiError(err);
    status = e.status;
    tally.errorType = e.type;
    thrown = true; // the error handler writes this request's log line
    logUnexpected(request, err, "provider failed");
    throw e;
  } finally {
    release?.();
    deps.inflight.delete(abort);
    finishRecord(deps, request, entry, req, tally, { status, started, startedAt, thrown });
  }
}

async function sendRelayed(
  reply: FastifyReply,
  relayed: RelayedReply,
  rateHeaders: Record<string, string>,
  tally: UsageTally,
): Promise<void> {
  reply.hijack();
  reply.raw.writeHead(relayed.status, {
    ...relayed.headers,
    ...rateHeaders,
    "request-id": String(reply.request.id),
  });
  for await (const chunk of relayed.body) {
    tally.firstDeltaAt ??= performance.now();
    if (!reply.raw.write(chunk)) await new Promise((r) => reply.raw.once("drain", r));
  }
  reply.raw.end();
  const usage = await relayed.usage;
  if (usage) tally.fromUsage(usage);
}

function finishRecord(
  deps: AppDeps,
  request: FastifyRequest,
  entry: ModelEntry,
  req: MessageRequest,
  tally: UsageTally,
  t: { status: number; started: number; startedAt: Date; thrown: boolean },
): void {
  const principal = request.principal;
  const ended = performance.now();
  deps.recorder.record({
    request_id: String(request.id),
    key_id: principal?.keyId ?? null,
    workspace_id: principal?.workspaceId ?? null,
    model: entry.config.id,
    input_tokens: tally.input_tokens,
    output_tokens: tally.output_tokens,
    cache_creation_input_tokens: tally.cache_creation_input_tokens,
    cache_read_input_tokens: tally.cache_read_input_tokens,
    status: t.status,
    error_type: tally.errorType,
    streamed: req.stream,
    latency_ms: Math.round(ended - t.started),
    ttft_ms: tally.firstDeltaAt === undefined ? null : Math.round(tally.firstDeltaAt - t.started),
    started_at: t.startedAt,
  });
  if (principal) {
    deps.limiter
      .charge(principal, { input_tokens: tally.input_tokens, output_tokens: tally.output_tokens })
      .catch((err) => request.log.warn({ err }, "charging tokens failed"));
  }
  if (t.thrown) return;
  request.log.info(
    {
      model: entry.config.id,
      key: principal?.name,
      status: t.status,
      stream: req.stream,
      in: tally.input_tokens,
      out: tally.output_tokens,
      ms: Math.round(ended - t.started),
    },
    "message",
  );
}
