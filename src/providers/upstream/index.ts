export { type BreakerOptions, type BreakerState, CircuitBreaker } from "./breaker.ts";
export {
  errorForStatus,
  exhaustedError,
  parseRetryAfter,
  scrub,
  UpstreamFailure,
  upstreamErrorText,
} from "./errors.ts";
export { FallbackProvider, type ModelLookup, withFallbacks } from "./fallback.ts";
export { type CallContext, UpstreamPool } from "./pool.ts";
export { relayFromEvents } from "./relay-events.ts";
export {
  BREAKER,
  baseUrls,
  DEFAULT_HEALTH_CHECK_MS,
  DEFAULT_TIMEOUTS,
  poolFor,
  secretsOf,
  timeoutsOf,
  type UpstreamModelConfig,
} from "./settings.ts";
export {
  clientClosed,
  type Outcome,
  readAll,
  type Timeouts,
  Upstream,
  type UpstreamCall,
  type UpstreamReply,
} from "./upstream.ts";
