import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  ApiError,
  apiError,
  invalidRequest,
  notFound,
  requestTooLarge,
  statusForErrorType,
} from "../protocol/index.ts";
import { logErrorReply, logUnexpected } from "./request-log.ts";

/** Statuses the SDK must not retry (it retries 408, 409, 429 and 5xx by default). */
const shouldRetry = (status: number) => status === 408 || status === 409 || status === 429 || status >= 500;

/**
 * Sends any error as the Anthropic envelope: one place for every status and type. `x-should-retry`
 * follows the status unless the error set it (a permanent failure says `false`).
 */
export function sendError(request: FastifyRequest, reply: FastifyReply, err: ApiError): FastifyReply {
  return reply
    .code(err.status)
    .headers({ ...request.rateHeaders, "x-should-retry": String(shouldRetry(err.status)), ...err.headers })
    .type("application/json")
    .send(err.toEnvelope(String(request.id)));
}

/** Fastify's own errors (body parsing, limits) in the API's words; anything unknown is a 500 that leaks nothing. */
export function toEnvelopeError(err: FastifyError | Error, bodyLimitMb: number): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as FastifyError;
  switch (e.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return requestTooLarge(`Request exceeds the maximum allowed size of ${bodyLimitMb} MB`);
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return invalidRequest("body: Field required (the request body is empty; send a JSON object)");
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return invalidRequest(`There was an error parsing the body of your request: ${e.message}`);
    default:
      break;
  }
  if (err instanceof SyntaxError || e.statusCode === 400) {
    return invalidRequest(`There was an error parsing the body of your request: ${err.message}`);
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    const status = e.statusCode === 404 ? 404 : e.statusCode === 413 ? 413 : 400;
    const type =
      status === 404 ? "not_found_error" : status === 413 ? "request_too_large" : "invalid_request_error";
    return new ApiError(status, type, e.message);
  }
  return apiError();
}

/** Every error reply gets one log line (see request-log.ts); only unforeseen failures a stack. */
export function installErrorHandlers(app: FastifyInstance, bodyLimitMb: number): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const apiErr = toEnvelopeError(err, bodyLimitMb);
    if (apiErr.status >= 500) logUnexpected(request, err);
    logErrorReply(request, apiErr);
    return sendError(request, reply, apiErr);
  });
  app.setNotFoundHandler((request, reply) => {
    const err = notFound("Not Found");
    logErrorReply(request, err);
    return sendError(request, reply, err);
  });
}

export { statusForErrorType };
