/** One finished request, as the server reports it to the usage store. */
export interface UsageRecord {
  request_id: string;
  key_id: string | null;
  workspace_id: string | null;
  /** The model id from the catalogue (aliases resolved), or as requested when unknown. */
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  /** HTTP status sent (200 for streams that started, even if they later failed). */
  status: number;
  /** Anthropic error type when the request failed (before or during the stream). */
  error_type: string | null;
  streamed: boolean;
  latency_ms: number;
  /** Time to the first content delta; null when none was produced. */
  ttft_ms: number | null;
  started_at: Date;
  /** Set for requests run by the batch worker. */
  batch_id?: string | null;
  /** `batch` for batch requests; absent means `standard`. */
  service_tier?: "standard" | "batch";
}

/** Receives usage records off the hot path; `record` must never throw or block. */
export interface UsageRecorder {
  record(r: UsageRecord): void;
  /** Writes whatever is buffered (graceful shutdown). */
  flush?(): Promise<void>;
  close?(): Promise<void>;
  /** Records waiting to be written, failed writes and dropped records since start (for metrics). */
  stats?(): UsageWriteStats;
}

export interface UsageWriteStats {
  pending: number;
  flush_errors: number;
  dropped: number;
}

export const discardUsage: UsageRecorder = { record() {} };
