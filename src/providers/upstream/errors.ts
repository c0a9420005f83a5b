import { ApiError, permanentError } from "../../protocol/index.ts";

export type FailureKind =
  | "connect"
  | "connect_timeout"
  | "first_byte_timeout"
  | "idle_timeout"
  | "status"
  | "network"
  | "protocol";

/** Why one attempt at one upstream failed. `message` is for logs only, never for clients. */
export class UpstreamFailure extends Error {
  readonly kind: FailureKind;
  readonly status: number | undefined;
  /** Parsed from the upstream's `retry-after-ms` / `retry-after`. */
  readonly retryAfterMs: number | undefined;
  /** The upstream's own error text, scrubbed of known secrets (logs; 4xx request errors). */
  readonly upstreamMessage: string | undefined;

  constructor(
    kind: FailureKind,
    message: string,
    extra: { status?: number; retryAfterMs?: number; upstreamMessage?: string } = {},
  ) {
    super(message);
    this.name = "UpstreamFailure";
    this.kind = kind;
    this.status = extra.status;
    this.retryAfterMs = extra.retryAfterMs;
    this.upstreamMessage = extra.upstreamMessage;
  }

  /** Worth another upstream: connection trouble, timeouts, 408, 429 and 5xx. */
  get retryable(): boolean {
    if (this.kind !== "status") return this.kind !== "protocol";
    const s = this.status ?? 0;
    return s === 408 || s === 429 || s >= 500;
  }
}

/** Replaces known secrets and anything shaped like a bearer token or API key. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("[redacted]");
  return out
    .replace(/(bearer\s+)[^\s"',]+/gi, "$1[redacted]")
    .replace(/\b(sk|key|token)-[A-Za-z0-9_-]{6,}/g, "$1-[redacted]");
}

/** The error text of an upstream body: OpenAI, Anthropic, vLLM, FastAPI and Ollama shapes. */
export function upstreamErrorText(body: string): string {
  try {
    const j = JSON.parse(body) as Record<string, unknown>;
    const e = j.error;
    if (typeof e === "string") return e;
    if (e && typeof e === "object" && typeof (e as { message?: unknown }).message === "string")
      return (e as { message: string }).message;
    if (typeof j.message === "string") return j.message;
    if (typeof j.detail === "string") return j.detail;
    if (j.detail !== undefined) return JSON.stringify(j.detail);
  } catch {
    // not JSON: use the text itself
  }
  return body.slice(0, 500);
}

/** `retry-after-ms`, else `retry-after` in seconds or as an HTTP date; undefined when absent or bad. */
export function parseRetryAfter(
  headers: Record<string, string | string[] | undefined>,
  now = Date.now(),
): number | undefined {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const ms = Number(one(headers["retry-after-ms"]));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const raw = one(headers["retry-after"]);
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const retryAfterHeader = (ms: number | undefined): Record<string, string> =>
  ms === undefined ? {} : { "retry-after": String(Math.max(1, Math.ceil(ms / 1000))) };

/**
 * The client's error for an upstream HTTP status. Only request errors (400, 413, 422) carry the
 * upstream's words, since they describe the client's own request; credentials, routing and
 * server failures get Parley's words and the details stay in the logs.
 */
export function errorForStatus(
  status: number,
  upstreamMessage: string,
  retryAfterMs: number | undefined,
  model: string,
): ApiError {
  switch (status) {
    case 400:
    case 422:
      return new ApiError(
        400,
        "invalid_request_error",
        upstreamMessage || "The upstream rejected the request",
      );
    case 401:
    case 403:
      return permanentError(
        500,
        "api_error",
        `The upstream for model ${model} rejected Parley's credentials; the administrator should check its api_key`,
      );
    case 404:
      return permanentError(
        500,
        "api_error",
        `The upstream for model ${model} does not know the configured model or path; the administrator should check base_url and upstream_model`,
      );
    case 408:
    case 504:
      return new ApiError(504, "timeout_error", `The upstream for model ${model} timed out`);
    case 413:
      return new ApiError(413, "request_too_large", upstreamMessage || "Request too large for the upstream");
    case 429:
      return new ApiError(
        429,
        "rate_limit_error",
        `The upstream for model ${model} is rate limited; retry later`,
        retryAfterHeader(retryAfterMs),
      );
    case 502:
    case 503:
    case 529:
      return new ApiError(
        529,
        "overloaded_error",
        `The upstream for model ${model} is overloaded or unavailable`,
        retryAfterHeader(retryAfterMs),
      );
    default:
      return status >= 400 && status < 500
        ? new ApiError(400, "invalid_request_error", upstreamMessage || `The upstream answered ${status}`)
        : new ApiError(500, "api_error", `The upstream for model ${model} failed (HTTP ${status})`);
  }
}

/** The one error a client gets once every upstream was tried (or none could be). */
export function exhaustedError(
  failures: readonly UpstreamFailure[],
  model: string,
  retryInMs: number | undefined,
): ApiError {
  const limited = failures.filter((f) => f.status === 429);
  if (limited.length > 0) {
    const waits = limited.map((f) => f.retryAfterMs).filter((ms): ms is number => ms !== undefined);
    return errorForStatus(429, "", waits.length ? Math.min(...waits) : undefined, model);
  }
  const last = failures[failures.length - 1];
  if (!last) {
    return new ApiError(
      529,
      "overloaded_error",
      `Every upstream of model ${model} is temporarily ejected after failures; retry shortly`,
      retryAfterHeader(retryInMs),
    );
  }
  switch (last.kind) {
    case "status":
      return errorForStatus(last.status ?? 500, last.upstreamMessage ?? "", last.retryAfterMs, model);
    case "first_byte_timeout":
    case "idle_timeout":
      return new ApiError(504, "timeout_error", `The upstream for model ${model} did not answer in time`);
    case "protocol":
      return new ApiError(500, "api_error", `The upstream for model ${model} sent a malformed reply`);
    default:
      return new ApiError(529, "overloaded_error", `No upstream for model ${model} is reachable`);
  }
}
