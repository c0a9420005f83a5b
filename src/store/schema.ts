/** Times are epoch milliseconds (bigint in PostgreSQL, integer in SQLite); read them with `Number()`. */
type Millis = number | string | bigint;
type Count = number | string | bigint;

export interface WorkspaceTable {
  id: string;
  name: string;
  display_color: string;
  created_at: Millis;
  archived_at: Millis | null;
  rpm: Count | null;
  tpm: Count | null;
  input_tpm: Count | null;
  output_tpm: Count | null;
  monthly_tokens: Count | null;
  /** JSON array of MCP hosts (migration 0002); null = no narrowing. */
  mcp_allowed_hosts: string | null;
}

export interface ApiKeyTable {
  id: string;
  name: string;
  /** SHA-256 of the key, hex; the key itself is never stored. */
  key_hash: string;
  hint: string;
  status: "active" | "inactive" | "archived";
  workspace_id: string | null;
  /** JSON array of model globs. */
  models: string;
  rpm: Count | null;
  tpm: Count | null;
  input_tpm: Count | null;
  output_tpm: Count | null;
  monthly_tokens: Count | null;
  /** JSON array of MCP hosts (migration 0002); null = no narrowing. */
  mcp_allowed_hosts: string | null;
  /** `config` keys are declared by the config file and upserted at start; `api` keys by the admin API or CLI. */
  source: "config" | "api";
  created_by: string | null;
  created_at: Millis;
  updated_at: Millis;
}

export interface UsageTable {
  request_id: string;
  key_id: string | null;
  workspace_id: string | null;
  model: string;
  input_tokens: Count;
  output_tokens: Count;
  cache_creation_input_tokens: Count;
  cache_read_input_tokens: Count;
  status: number;
  error_type: string | null;
  /** 1 when streamed, 0 otherwise (an integer on both databases). */
  streamed: number;
  latency_ms: Count;
  ttft_ms: Count | null;
  started_at: Millis;
  /** The message batch a request ran in (null for interactive requests). */
  batch_id?: string | null;
  /** `standard` or `batch`, as the hosted usage report groups them (null reads as standard). */
  service_tier?: string | null;
}

export interface MessageBatchTable {
  id: string;
  workspace_id: string | null;
  key_id: string;
  /** The principal at creation (JSON): batch requests run with the key's limits and models as they were. */
  principal: string;
  processing_status: "in_progress" | "canceling" | "ended";
  request_count: Count;
  /** Final counts, written when the batch ends (while it runs every request counts as processing). */
  succeeded: Count;
  errored: Count;
  canceled: Count;
  expired: Count;
  created_at: Millis;
  expires_at: Millis;
  ended_at: Millis | null;
  cancel_initiated_at: Millis | null;
  archived_at: Millis | null;
}

export type BatchRequestState = "pending" | "running" | "succeeded" | "errored" | "canceled" | "expired";

export interface BatchRequestTable {
  batch_id: string;
  idx: Count;
  custom_id: string;
  /** The catalogue id of the model, so instances claim work for the models they serve. */
  model: string;
  /** The request's `params` and request context (API version, betas), JSON. */
  params: string;
  context: string;
  state: BatchRequestState;
  /** The `result` object of the results line (JSON), once the request has ended. */
  result: string | null;
  /** Which instance runs it, and until when its claim holds without a heartbeat. */
  lease_owner: string | null;
  lease_until: Millis | null;
  /** Not claimed before this time (a rate limit asked to wait). */
  not_before: Millis;
  attempts: Count;
}

export interface FileTable {
  id: string;
  workspace_id: string | null;
  key_id: string;
  filename: string;
  mime_type: string;
  size_bytes: Count;
  downloadable: number;
  created_at: Millis;
  expires_at: Millis | null;
}

export interface Database {
  workspaces: WorkspaceTable;
  api_keys: ApiKeyTable;
  usage: UsageTable;
  message_batches: MessageBatchTable;
  batch_requests: BatchRequestTable;
  files: FileTable;
}
