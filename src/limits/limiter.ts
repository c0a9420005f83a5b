import type { Principal } from "../auth/index.ts";

export interface TokenCharge {
  input_tokens: number;
  output_tokens: number;
}

/** Rate limits and budgets, checked before a request runs and charged after it. */
export interface Limiter {
  /**
   * Admits one request for the principal or throws a 429 `ApiError` with `retry-after`.
   * Returns the `anthropic-ratelimit-*` headers for the reply.
   */
  admit(principal: Principal): Promise<Record<string, string>>;
  /** Charges the tokens a finished request used. */
  charge(principal: Principal, tokens: TokenCharge): Promise<void>;
  close?(): Promise<void>;
  /** Rejects when the shared limit store (Redis) does not answer; absent for in-memory limits. */
  ping?(): Promise<void>;
}
