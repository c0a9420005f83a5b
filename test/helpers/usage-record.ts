import type { UsageRecord } from "../../src/store/index.ts";

/** A finished request's usage record with plausible values; `overrides` set what a test is about. */
export function usageRecord(overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    request_id: `req_${Math.random().toString(36).slice(2)}`,
    key_id: "apikey_a",
    workspace_id: null,
    model: "mock",
    input_tokens: 10,
    output_tokens: 5,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    status: 200,
    error_type: null,
    streamed: false,
    latency_ms: 12,
    ttft_ms: 3,
    started_at: new Date(),
    ...overrides,
  };
}
