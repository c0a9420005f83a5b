import type { ErrorEnvelope, ErrorType } from "./schema/index.ts";

/** The one error class: an HTTP status, an Anthropic error type and a client-safe message. */
export class ApiError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  /** Extra response headers, e.g. `retry-after`. */
  readonly headers: Record<string, string>;
  /** Machine-readable detail, e.g. `{ error_code: "file_not_downloadable" }` (the SDK reads it). */
  details?: { error_code: string };

  constructor(status: number, type: ErrorType, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.type = type;
    this.headers = headers;
  }

  toEnvelope(requestId?: string): ErrorEnvelope {
    return {
      type: "error",
      error: { type: this.type, message: this.message, ...(this.details ? { details: this.details } : {}) },
      ...(requestId ? { request_id: requestId } : {}),
    };
  }
}

/** Tells clients (the SDKs, Claude Code) that retrying cannot help, so they show the message at once. */
export const NO_RETRY: Readonly<Record<string, string>> = { "x-should-retry": "false" };

/**
 * The error for a failure that lasts until someone changes something (a model that cannot load,
 * an upstream that refuses Parley's credentials or does not know the model): never retried.
 */
export const permanentError = (status: number, type: ErrorType, message: string) =>
  new ApiError(status, type, message, { ...NO_RETRY });

export const invalidRequest = (message: string) => new ApiError(400, "invalid_request_error", message);
export const authenticationError = (message = "invalid x-api-key") =>
  new ApiError(401, "authentication_error", message);
export const permissionError = (message: string) => new ApiError(403, "permission_error", message);
export const notFound = (message: string) => new ApiError(404, "not_found_error", message);
export const requestTooLarge = (message: string) => new ApiError(413, "request_too_large", message);
/** The model exists but lacks a feature the request needs (tools, images, thinking, …). */
export const unsupportedFeature = (message: string) => new ApiError(422, "invalid_request_error", message);
export const rateLimited = (message: string, retryAfterSeconds: number) =>
  new ApiError(429, "rate_limit_error", message, {
    "retry-after": String(Math.max(1, Math.ceil(retryAfterSeconds))),
  });
export const apiError = (message = "Internal server error") => new ApiError(500, "api_error", message);
/** A model Parley cannot serve now (file missing, download impossible, load failed). */
export const modelUnavailable = (message: string) => permanentError(500, "api_error", message);
export const timeoutError = (message = "Request timed out") => new ApiError(504, "timeout_error", message);
export const overloaded = (message = "Overloaded") => new ApiError(529, "overloaded_error", message);

/** Any thrown value as an ApiError; unknown failures become a 500 that leaks nothing. */
export function toApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : apiError();
}
