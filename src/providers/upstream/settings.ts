import type { AnthropicModelConfig, OpenAIModelConfig } from "../../config/index.ts";
import type { ProviderLogger } from "../provider.ts";
import { UpstreamPool } from "./pool.ts";
import type { Timeouts } from "./upstream.ts";

export type UpstreamModelConfig = OpenAIModelConfig | AnthropicModelConfig;

/** Defaults sized for local model servers: a slow prompt may take a while before the first token. */
export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 5_000, firstByteMs: 120_000, idleMs: 60_000 };
export const DEFAULT_HEALTH_CHECK_MS = 10_000;
/** An ejected upstream is left alone for 1 s, then 2, 4, … up to 60 s while it keeps failing. */
export const BREAKER = { baseMs: 1_000, maxMs: 60_000 };

export const baseUrls = (config: UpstreamModelConfig): string[] =>
  Array.isArray(config.base_url) ? config.base_url : [config.base_url];

export function timeoutsOf(config: UpstreamModelConfig): Timeouts {
  const t = config.timeouts ?? {};
  return {
    connectMs: t.connect_ms ?? DEFAULT_TIMEOUTS.connectMs,
    firstByteMs: t.first_byte_ms ?? DEFAULT_TIMEOUTS.firstByteMs,
    idleMs: t.idle_ms ?? DEFAULT_TIMEOUTS.idleMs,
  };
}

/** The key and every configured header value: scrubbed from anything logged or returned. */
export const secretsOf = (config: UpstreamModelConfig): string[] =>
  [config.api_key ?? "", ...Object.values(config.headers ?? {})].filter((s) => s.length > 0);

export function poolFor(config: UpstreamModelConfig, logger: ProviderLogger): UpstreamPool {
  return new UpstreamPool(baseUrls(config), {
    model: config.id,
    timeouts: timeoutsOf(config),
    breaker: BREAKER,
    logger,
    secrets: secretsOf(config),
  });
}
