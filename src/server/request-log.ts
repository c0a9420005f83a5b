import type { FastifyRequest } from "fastify";
import { keyHint, presentedKey } from "../auth/index.ts";
import { ApiError } from "../protocol/index.ts";

/**
 * What an operator needs in the log, one line per request that did not end well: refused
 * requests (4xx) and errors Parley chose to send (an `ApiError`) get one info line without a
 * stack; only failures nobody foresaw get a stack trace.
 */

/** The key behind a request: its name once authenticated, else a hint of what was presented. */
export function keyLabel(request: FastifyRequest): string | null {
  if (request.principal) return request.principal.name;
  const key = presentedKey(request.headers);
  return key ? keyHint(key) : null;
}

/** The model a body asked for, when it names one. */
function requestedModel(request: FastifyRequest): string | undefined {
  const model = (request.body as { model?: unknown } | undefined)?.model;
  return typeof model === "string" ? model.slice(0, 200) : undefined;
}

/** The one line for a request answered with an error envelope. */
export function logErrorReply(request: FastifyRequest, err: ApiError): void {
  request.log.info(
    {
      status: err.status,
      type: err.type,
      error: err.message,
      path: request.url,
      key: keyLabel(request),
      model: requestedModel(request),
    },
    err.status < 500 ? "request refused" : "request failed",
  );
}

/** A failure with no `ApiError` behind it is a bug or an outage: keep its stack. */
export function logUnexpected(request: FastifyRequest, err: unknown, msg = "unhandled error"): void {
  if (err instanceof ApiError) return;
  request.log.error({ err }, msg);
}

/** An error after a stream's headers went out (sent as an SSE `error` event). */
export function logStreamError(request: FastifyRequest, err: unknown): void {
  if (err instanceof ApiError) {
    request.log.info(
      { status: err.status, type: err.type, error: err.message, key: keyLabel(request) },
      "stream ended with an error",
    );
  } else logUnexpected(request, err, "provider failed");
}
