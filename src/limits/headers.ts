import { type Dimension, type LimitStatus, remaining } from "./windows.ts";

const FAMILY: Record<Exclude<Dimension, "monthly">, string> = {
  requests: "requests",
  input: "input-tokens",
  output: "output-tokens",
  tokens: "tokens",
};

/** RFC 3339 in UTC, rounded up to the second so it is never before the real reset. */
const resetTime = (ms: number) => new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");

/** The tightest of several statuses: least remaining, then the latest reset. */
function tightest(statuses: LimitStatus[]): LimitStatus | undefined {
  return statuses.reduce<LimitStatus | undefined>((best, s) => {
    if (!best) return s;
    const d = remaining(s) - remaining(best);
    return d < 0 || (d === 0 && s.resetAt > best.resetAt) ? s : best;
  }, undefined);
}

/**
 * The hosted API's `anthropic-ratelimit-*` headers. Each family reports its tightest limit over the key
 * and its workspace; `tokens-*` reports the tightest token limit of any kind in effect (per-minute or the
 * monthly budget), as the hosted API describes it. A family without any configured limit is left out.
 */
export function rateLimitHeaders(statuses: LimitStatus[]): Record<string, string> {
  const headers: Record<string, string> = {};
  const put = (family: string, s: LimitStatus | undefined) => {
    if (!s) return;
    headers[`anthropic-ratelimit-${family}-limit`] = String(s.limit);
    headers[`anthropic-ratelimit-${family}-remaining`] = String(remaining(s));
    headers[`anthropic-ratelimit-${family}-reset`] = resetTime(s.resetAt);
  };
  put(FAMILY.requests, tightest(statuses.filter((s) => s.dim === "requests")));
  put(FAMILY.input, tightest(statuses.filter((s) => s.dim === "input")));
  put(FAMILY.output, tightest(statuses.filter((s) => s.dim === "output")));
  put(FAMILY.tokens, tightest(statuses.filter((s) => s.dim !== "requests")));
  return headers;
}

const UNIT: Record<Dimension, string> = {
  requests: "requests per minute",
  input: "input tokens per minute",
  output: "output tokens per minute",
  tokens: "input and output tokens per minute",
  monthly: "tokens per month",
};

/** The 429 message, naming the limit that was hit the way the hosted API does. */
export function limitMessage(s: LimitStatus, retryAfterSeconds: number): string {
  const whose = s.scope.kind === "key" ? "API key's" : "workspace's";
  const what =
    s.dim === "monthly"
      ? `monthly budget of ${s.limit.toLocaleString("en-US")} tokens; it resets at ${resetTime(s.resetAt)}`
      : `rate limit of ${s.limit.toLocaleString("en-US")} ${UNIT[s.dim]}`;
  return `This request would exceed your ${whose} ${what}. Please retry after ${retryAfterSeconds} seconds.`;
}
