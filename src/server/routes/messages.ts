import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  ApiError,
  type MessageCreateParams,
  MessageCreateParams as MessageCreateSchema,
} from "../../protocol/index.ts";
import type { RelayedReply } from "../../providers/index.ts";
import type { ReplyChannel, UsageTally } from "../../service/index.ts";
import { bodyNeverArrived, type GuardAnswered } from "../connection-guard.ts";
import type { AppDeps } from "../deps.ts";
import { toEnvelopeError } from "../errors.ts";
import { FrameWriter } from "../frame-writer.ts";
import { logUnknownFields, requestContext } from "../request-context.ts";
import { logStreamError } from "../request-log.ts";
import { sendStream } from "../send-stream.ts";

declare module "fastify" {
  interface FastifyRequest {
    /**
     * A message request whose outcome is counted already: by the message service once the handler
     * ran, or as an answer the edge gave (so a later error report of the same request is not).
     * A decorated flag, not a WeakSet: adding every request to a WeakSet cost an ephemeron write
     * and the collector's ephemeron pass per request (about 1% of a request's CPU).
     */
    outcomeCounted: boolean;
  }
}

/** `answer` is only worked out for a request not counted yet (a handler's errors are the service's). */
const countOnce = (deps: AppDeps, request: FastifyRequest, answer: () => ApiError) => {
  if (request.outcomeCounted) return;
  request.outcomeCounted = true;
  deps.messages.countEdgeRefusal(request.body, answer());
};

/** The connection guard's own answers (a stalled body's 408), counted when they end a message request. */
export const countGuardAnswer =
  (deps: AppDeps): GuardAnswered =>
  (request, err) => {
    if (request.method === "POST" && request.routeOptions.url === "/v1/messages")
      countOnce(deps, request, () => err);
  };

/** POST /v1/messages: the HTTP edge of the message service (SSE, folded JSON or relayed bytes). */
export async function messagesRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.decorateRequest("outcomeCounted", false);
  app.post<{ Body: MessageCreateParams }>(
    "/v1/messages",
    {
      schema: { body: MessageCreateSchema, summary: "Create a message", tags: ["messages"] },
      // Refused at the edge (key, limits, body, schema): counted too, so a dashboard sees 401s and 400s.
      onError: async (request, _reply, err) => {
        countOnce(
          deps,
          request,
          () => bodyNeverArrived(request, err) ?? toEnvelopeError(err, deps.config.server.body_limit_mb),
        );
      },
    },
    async (request, reply) => {
      request.outcomeCounted = true;
      logUnknownFields(request, request.body);
      const prepared = deps.messages.prepare(request.body, requestContext(request), principalOf(request));
      const abort = new AbortController();
      reply.raw.on("close", () => {
        if (!reply.raw.writableFinished) abort.abort();
      });
      const call = {
        requestId: String(request.id),
        signal: abort.signal,
        log: request.log,
        sessionId: sessionIdOf(request),
      };
      const outcome = await deps.messages.run(
        prepared,
        call,
        httpChannel(deps, request, reply, abort.signal),
      );
      return outcome.message ?? reply;
    },
  );
}

/** Claude Code names its session on every request; the llama backend keeps the session's prefix warm. */
const sessionIdOf = (request: FastifyRequest): string | undefined => {
  const id = request.headers["x-claude-code-session-id"];
  return typeof id === "string" && id !== "" ? id.slice(0, 200) : undefined;
};

const principalOf = (request: FastifyRequest) => {
  if (!request.principal) throw new ApiError(401, "authentication_error", "invalid x-api-key");
  return request.principal;
};

function httpChannel(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  signal: AbortSignal,
): ReplyChannel {
  return {
    sendEvents: (events, tally) =>
      sendStream(reply, events, {
        headers: { "request-id": String(request.id), ...request.rateHeaders },
        pingIntervalMs: deps.config.server.ping_interval_ms,
        signal,
        tally,
        onError: (err) => logStreamError(request, err),
      }),
    sendRelayed: (relayed, tally) => sendRelayed(reply, relayed, request.rateHeaders, tally),
  };
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
  // The chunks of one read leave at the end of the turn, with the end of the reply when it is there.
  const out = new FrameWriter(reply.raw);
  for await (const chunk of relayed.body) {
    tally.firstDeltaAt ??= performance.now();
    out.queue(chunk);
    // A client that left never drains: the wait ends on close, and the abort cancels the upstream.
    const blocked = out.writable();
    if (blocked) await blocked;
  }
  out.end();
  const usage = await relayed.usage;
  if (usage) tally.fromUsage(usage);
}
