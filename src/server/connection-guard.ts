import type { Socket } from "node:net";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ApiError, newRequestId, notFound } from "../protocol/index.ts";
import { sendError } from "./errors.ts";
import { logErrorReply } from "./request-log.ts";

export interface ConnectionLimits {
  /** The whole request must have arrived within this long (Node's requestTimeout). */
  bodyTimeoutMs: number;
  /** No byte for this long while the request is still arriving: 408. */
  idleTimeoutMs: number;
}

/** How long a socket answered before its body ended may linger so the client reads the reply. */
const LINGER_MS = 2_000;

/** What Node answered on a socket outside any request (clientErrorHandler), e.g. a body timeout. */
const answeredByNode = new WeakMap<Socket, ApiError>();

/** Told of each request the guard answers itself (a stalled body gets a 408), e.g. to count it. */
export type GuardAnswered = (request: FastifyRequest, err: ApiError) => void;

/**
 * What the client of a request whose body never arrived was actually told, when Fastify later
 * reports it as an aborted body (which is not what the client saw): Node's 408 when the body
 * took too long, or nothing (499) when the client itself went away.
 */
export function bodyNeverArrived(request: FastifyRequest, err: unknown): ApiError | undefined {
  const socket = request.raw.socket;
  const sent = socket ? answeredByNode.get(socket) : undefined;
  if (sent) return sent;
  if (request.raw.aborted || (err as { code?: unknown }).code === "ECONNRESET") {
    return new ApiError(499, "api_error", "Client closed the request");
  }
  return undefined;
}

/** The options Fastify (and the Node server under it) takes for these limits. */
export function serverTimeouts(limits: ConnectionLimits) {
  return {
    requestTimeout: limits.bodyTimeoutMs,
    // Node checks request timeouts on this interval; the default (30 s) would blur short limits.
    http: {
      connectionsCheckingInterval: Math.min(1_000, limits.bodyTimeoutMs),
      headersTimeout: Math.min(60_000, limits.bodyTimeoutMs),
    },
  };
}

/**
 * Connection-level protection: unknown routes are answered before the body is read, a body that
 * stops arriving is cut with a 408, and a connection answered before its body ended is closed
 * (after the reply) instead of reading an endless body.
 */
export function installConnectionGuard(
  app: FastifyInstance,
  limits: ConnectionLimits,
  onAnswered?: GuardAnswered,
): void {
  // Callback hooks, not async ones: they run on every request and need no promise each.
  app.addHook("onRequest", (request, reply, done) => {
    // This hook runs inside the parser's headers callback, before it parses the body bytes of the
    // same read (microtasks and ticks run then too), so `complete` is false for every request with
    // a body. After the read, almost every body is complete and needs no watch: checked in the
    // next turn, that is one immediate instead of a socket timer set and cleared and two listeners.
    if (!request.raw.complete)
      setImmediate(() => {
        if (!request.raw.complete) watchIdleBody(request, reply, limits.idleTimeoutMs, onAnswered);
      });
    if (!request.is404) return done();
    const err = notFound("Not Found");
    logErrorReply(request, err);
    sendError(request, reply, err); // answered: the chain stops without done()
  });
  app.addHook("onSend", (request, reply, payload, done) => {
    if (!request.raw.complete) reply.header("connection", "close");
    done(null, payload);
  });
  app.addHook("onResponse", (request, _reply, done) => {
    if (!request.raw.complete) closeAfterReply(request.raw.socket);
    done();
  });
}

function watchIdleBody(
  request: FastifyRequest,
  reply: FastifyReply,
  idleMs: number,
  onAnswered: GuardAnswered | undefined,
): void {
  const socket = request.raw.socket;
  const onTimeout = () => {
    if (request.raw.complete || reply.sent || reply.raw.headersSent) return;
    request.log.info({ idleMs }, "request body stalled; answered 408");
    const err = new ApiError(408, "timeout_error", `No part of the request body arrived for ${idleMs} ms`);
    onAnswered?.(request, err);
    const body = JSON.stringify(err.toEnvelope(String(request.id)));
    reply.raw.writeHead(408, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "request-id": String(request.id),
      "x-should-retry": "true",
      connection: "close",
    });
    reply.raw.end(body);
    closeAfterReply(socket);
  };
  socket.setTimeout(idleMs);
  // A listener on the request keeps Node from destroying the socket without a reply.
  request.raw.on("timeout", onTimeout);
  request.raw.once("end", () => {
    socket.setTimeout(0);
    request.raw.off("timeout", onTimeout);
  });
}

/** Ends our side, keeps discarding what the client still sends, and lets go after LINGER_MS. */
function closeAfterReply(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end();
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/**
 * Errors Node raises before a request exists (malformed HTTP, headers too large, request
 * timeout): the Anthropic envelope with a fresh request-id instead of Fastify's own body.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, type, message] =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "timeout_error", "The request did not arrive in time"]
      : err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "invalid_request_error", "The request headers are too large"]
        : [400, "invalid_request_error", "The request is not valid HTTP"];
  const id = newRequestId();
  const sent = new ApiError(status, type as ApiError["type"], message);
  // A client that ended its side mid-request left: its request counts as closed (499), not as this.
  if (err.code !== "HPE_INVALID_EOF_STATE") answeredByNode.set(socket, sent);
  const body = JSON.stringify(sent.toEnvelope(id));
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${status === 408 ? "Request Timeout" : status === 431 ? "Request Header Fields Too Large" : "Bad Request"}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `request-id: ${id}\r\nx-should-retry: ${status === 408}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroySoon?.();
}
