/** Talks to Parley from the page: the admin key (session storage only) goes in `x-api-key`. */

const ADMIN_KEY = "parley.adminKey";
const API_KEY = "parley.apiKey";

export const session = {
  adminKey: () => sessionStorage.getItem(ADMIN_KEY) ?? "",
  setAdminKey: (k: string) =>
    k ? sessionStorage.setItem(ADMIN_KEY, k) : sessionStorage.removeItem(ADMIN_KEY),
  apiKey: () => sessionStorage.getItem(API_KEY) ?? "",
  setApiKey: (k: string) => (k ? sessionStorage.setItem(API_KEY, k) : sessionStorage.removeItem(API_KEY)),
};

/** An error reply from Parley, with the Anthropic error type and message. */
export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  constructor(status: number, type: string, message: string) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

export async function errorFrom(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { type?: string; message?: string } };
    return new ApiError(res.status, body.error?.type ?? "api_error", body.error?.message ?? res.statusText);
  } catch {
    return new ApiError(res.status, "api_error", res.statusText);
  }
}

export async function call<T>(
  method: string,
  path: string,
  body?: unknown,
  key = session.adminKey(),
): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: {
      "x-api-key": key,
      "anthropic-version": "2023-06-01",
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await errorFrom(res);
  return (await res.json()) as T;
}

export interface Limits {
  rpm?: number;
  tpm?: number;
  input_tpm?: number;
  output_tpm?: number;
  monthly_tokens?: number;
}
export const LIMIT_NAMES = ["rpm", "tpm", "input_tpm", "output_tpm", "monthly_tokens"] as const;

export interface ApiKey {
  id: string;
  name: string;
  status: "active" | "inactive" | "archived";
  workspace_id: string | null;
  partial_key_hint: string;
  created_at: string;
  models: string[];
  limits: Limits;
}

export interface Workspace {
  id: string;
  name: string;
  created_at: string;
  archived_at: string | null;
  limits: Limits;
}

export interface ModelStatus {
  id: string;
  aliases: string[];
  provider: string;
  available: boolean;
  reason?: string;
  load?: "not_loaded" | "loading" | "loaded" | "failed";
  context_window: number | null;
  slots: { busy: number; total: number | null; queued: number; max_queue: number };
  upstreams?: { url: string; healthy: boolean; breaker: string; in_flight: number; retry_in_ms: number }[];
}

export interface LoggedRequest {
  request_id: string;
  started_at: string;
  api_key: { id: string; name: string | null } | null;
  model: string;
  status: number;
  error_type: string | null;
  streamed: boolean;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_read_input_tokens: number;
    cache_creation_input_tokens: number;
  };
  latency_ms: number;
  ttft_ms: number | null;
}

export interface Page<T> {
  data: T[];
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

export interface UsageResult {
  uncached_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  cache_read_input_tokens: number;
  output_tokens: number;
  api_key_id: string | null;
  model: string | null;
  request_count?: number;
}
export interface UsageReport {
  data: { starting_at: string; ending_at: string; results: UsageResult[] }[];
  has_more: boolean;
  next_page: string | null;
}

/** Every page of a list endpoint (the console's lists are short). */
export async function listAll<T>(path: string): Promise<T[]> {
  const out: T[] = [];
  let after: string | null = null;
  for (let i = 0; i < 50; i++) {
    const sep = path.includes("?") ? "&" : "?";
    const page: Page<T> = await call("GET", `${path}${sep}limit=1000${after ? `&after_id=${after}` : ""}`);
    out.push(...page.data);
    if (!page.has_more || !page.last_id) break;
    after = page.last_id;
  }
  return out;
}
