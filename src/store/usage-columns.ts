/** The usage table's columns, in the order batch writers send values. */
export const USAGE_COLUMNS = [
  "request_id",
  "key_id",
  "workspace_id",
  "model",
  "input_tokens",
  "output_tokens",
  "cache_creation_input_tokens",
  "cache_read_input_tokens",
  "status",
  "error_type",
  "streamed",
  "latency_ms",
  "ttft_ms",
  "started_at",
  "batch_id",
  "service_tier",
] as const;
