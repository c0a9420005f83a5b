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
}

export interface Database {
  workspaces: WorkspaceTable;
  api_keys: ApiKeyTable;
  usage: UsageTable;
}
