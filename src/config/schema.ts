import Type, { type Static } from "typebox";
import { TaggedUnion } from "../protocol/index.ts";

const Strict = { additionalProperties: false } as const;

export const Capabilities = Type.Object(
  {
    tools: Type.Optional(Type.Boolean()),
    vision: Type.Optional(Type.Boolean()),
    thinking: Type.Optional(Type.Boolean()),
    json_schema: Type.Optional(Type.Boolean()),
  },
  Strict,
);

/** Tokens, or a share of the model's `context_window` ("85%"). */
const TokenAmount = Type.Union([
  Type.Integer({ minimum: 1 }),
  Type.String({
    pattern: "^(100|[1-9]?[0-9])(\\.[0-9]+)?%$",
    description: 'A share of context_window, e.g. "85%"',
  }),
]);

/**
 * Per-model context management (see README "Long sessions on small windows"): defaults that
 * replace a request's trigger when it is larger than this model's window, the model that
 * writes compaction summaries, and whether an overflowing prompt has its oldest tool results
 * cleared instead of getting a 400.
 */
export const ModelContextManagement = Type.Object(
  {
    trigger: Type.Optional(TokenAmount),
    clear_at_least: Type.Optional(TokenAmount),
    compaction_model: Type.Optional(Type.String({ minLength: 1 })),
    clear_tool_uses_on_overflow: Type.Optional(Type.Boolean()),
  },
  Strict,
);

/** Fields every model entry has, whatever serves it. */
const modelCommon = {
  id: Type.String({ minLength: 1, description: "The model name clients send" }),
  aliases: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  display_name: Type.Optional(Type.String()),
  created_at: Type.Optional(Type.String({ description: "RFC 3339; orders GET /v1/models (newest first)" })),
  context_window: Type.Optional(Type.Integer({ minimum: 1 })),
  max_output_tokens: Type.Optional(Type.Integer({ minimum: 1 })),
  capabilities: Type.Optional(Capabilities),
  parallel: Type.Optional(Type.Integer({ minimum: 1, description: "Requests served at once" })),
  max_queue: Type.Optional(
    Type.Integer({ minimum: 0, description: "Requests waiting for a slot before 529 overloaded_error" }),
  ),
  context_management: Type.Optional(ModelContextManagement),
  batch_parallel: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: "Batch requests run at once on this model, in idle slots only (0: none here)",
    }),
  ),
};

export const MockModelConfig = Type.Object({ ...modelCommon, provider: Type.Literal("mock") }, Strict);

export const LlamaModelConfig = Type.Object(
  {
    ...modelCommon,
    provider: Type.Literal("llama"),
    path: Type.String({ minLength: 1, description: "A .gguf file, or hf:owner/repo/file.gguf" }),
    gpu_layers: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0 }), Type.Literal("auto"), Type.Literal("max")]),
    ),
    threads: Type.Optional(Type.Integer({ minimum: 1 })),
    batch_threads: Type.Optional(Type.Integer({ minimum: 1 })),
    contexts: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          "Contexts the slots are spread over, decoding side by side on `threads` each (default: as many as fit the cores, twice that when `threads` is 1, at most one per slot; 1 with GPU layers; fewer when memory is short)",
      }),
    ),
    batch_size: Type.Optional(Type.Integer({ minimum: 1 })),
    load: Type.Optional(Type.Union([Type.Literal("eager"), Type.Literal("lazy")])),
    kv_cache_type: Type.Optional(
      Type.Union([Type.Literal("f16"), Type.Literal("q8_0"), Type.Literal("q4_0")], {
        description: "KV-cache element type: q8_0 halves the memory a long window takes, q4_0 quarters it",
      }),
    ),
    normalize_claude_code_billing: Type.Optional(Type.Boolean()),
    gpu: Type.Optional(
      Type.Union([
        Type.Literal("auto"),
        Type.Literal(false),
        Type.Literal("cuda"),
        Type.Literal("vulkan"),
        Type.Literal("metal"),
      ]),
    ),
    download: Type.Optional(
      Type.Boolean({ description: "Allow downloading an hf: model missing from the cache" }),
    ),
    temperature: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 2,
        description: "Used when a request sends none (hosted default 1)",
      }),
    ),
  },
  Strict,
);

const Timeouts = Type.Object(
  {
    connect_ms: Type.Optional(Type.Integer({ minimum: 1 })),
    first_byte_ms: Type.Optional(Type.Integer({ minimum: 1 })),
    idle_ms: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  Strict,
);

const upstreamCommon = {
  base_url: Type.Union([
    Type.String({ minLength: 1 }),
    Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  ]),
  upstream_model: Type.Optional(Type.String({ minLength: 1 })),
  api_key: Type.Optional(Type.String()),
  headers: Type.Optional(Type.Record(Type.String(), Type.String())),
  timeouts: Type.Optional(Timeouts),
  fallbacks: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  health_check_ms: Type.Optional(Type.Integer({ minimum: 0 })),
};

export const OpenAIModelConfig = Type.Object(
  {
    ...modelCommon,
    ...upstreamCommon,
    provider: Type.Literal("openai"),
    tokenize: Type.Optional(
      Type.Union([Type.Literal("auto"), Type.Literal("upstream"), Type.Literal("estimate")]),
    ),
    max_stop_sequences: Type.Optional(Type.Integer({ minimum: 0 })),
    top_k: Type.Optional(Type.Boolean({ description: "Whether the upstream accepts top_k" })),
  },
  Strict,
);

export const AnthropicModelConfig = Type.Object(
  {
    ...modelCommon,
    ...upstreamCommon,
    provider: Type.Literal("anthropic"),
    drop_betas: Type.Optional(Type.Array(Type.String())),
  },
  Strict,
);

export const ModelConfig = TaggedUnion(
  [MockModelConfig, LlamaModelConfig, OpenAIModelConfig, AnthropicModelConfig],
  "provider",
);

/** `host` (any port) or `host:port`; IPv6 literals in brackets (`[::1]:8931`). */
export const MCP_HOST_PATTERN =
  "^(\\[[0-9a-fA-F:.]+\\](:[0-9]{1,5})?|[0-9a-fA-F]*:[0-9a-fA-F:.]+|[A-Za-z0-9.-]+(:[0-9]{1,5})?)$";

export const McpHosts = Type.Array(Type.String({ pattern: MCP_HOST_PATTERN }), {
  description: "MCP hosts that may be reached: `host` (any port) or `host:port`",
});

export const McpOptions = Type.Object(
  {
    allowed_hosts: Type.Optional(McpHosts),
    connect_timeout_ms: Type.Optional(Type.Integer({ minimum: 1 })),
    list_timeout_ms: Type.Optional(Type.Integer({ minimum: 1 })),
    call_timeout_ms: Type.Optional(Type.Integer({ minimum: 1 })),
    tool_list_ttl_ms: Type.Optional(Type.Integer({ minimum: 0 })),
    max_iterations: Type.Optional(Type.Integer({ minimum: 1 })),
    max_loop_ms: Type.Optional(Type.Integer({ minimum: 1 })),
    max_result_bytes: Type.Optional(Type.Integer({ minimum: 256 })),
  },
  Strict,
);

export const KeyConfig = Type.Object(
  {
    key: Type.String({ minLength: 8 }),
    name: Type.Optional(Type.String()),
    models: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    rpm: Type.Optional(Type.Integer({ minimum: 1 })),
    tpm: Type.Optional(Type.Integer({ minimum: 1 })),
    input_tpm: Type.Optional(Type.Integer({ minimum: 1 })),
    output_tpm: Type.Optional(Type.Integer({ minimum: 1 })),
    monthly_tokens: Type.Optional(Type.Integer({ minimum: 1 })),
    workspace: Type.Optional(Type.String()),
    mcp_allowed_hosts: Type.Optional(McpHosts),
  },
  Strict,
);

export const ServerOptions = Type.Object(
  {
    body_limit_mb: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    ping_interval_ms: Type.Optional(Type.Integer({ minimum: 100 })),
    shutdown_timeout_ms: Type.Optional(Type.Integer({ minimum: 0 })),
    /** The whole request (headers and body) must arrive within this long. */
    body_timeout_ms: Type.Optional(Type.Integer({ minimum: 100 })),
    /** While a request is being received, no byte for this long ends it with a 408. */
    idle_timeout_ms: Type.Optional(Type.Integer({ minimum: 100 })),
    /** Tries to reach PostgreSQL or Redis at start before giving up. */
    start_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    /** Wait before the second try; doubled after each, up to 8 times this. */
    start_retry_ms: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  Strict,
);

export const BatchOptions = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: "Run batch work on this instance" })),
    poll_interval_ms: Type.Optional(Type.Integer({ minimum: 10 })),
    lease_ms: Type.Optional(Type.Integer({ minimum: 100 })),
    max_requests: Type.Optional(Type.Integer({ minimum: 1 })),
    max_body_mb: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    expiry_hours: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    retention_days: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  Strict,
);

export const MetricsOptions = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: "Serve GET /metrics and count (default true)" })),
    require_admin_key: Type.Optional(
      Type.Boolean({ description: "GET /metrics needs an admin key, as the admin API does (default false)" }),
    ),
  },
  Strict,
);

export const FileOptions = Type.Object(
  {
    dir: Type.Optional(Type.String({ minLength: 1, description: "Default <data_dir>/files" })),
    max_file_mb: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    allow_downloads: Type.Optional(Type.Boolean()),
  },
  Strict,
);

export const ConfigFile = Type.Object(
  {
    listen: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ minLength: 1 })),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
        },
        Strict,
      ),
    ),
    data_dir: Type.Optional(Type.String({ minLength: 1 })),
    log_level: Type.Optional(Type.Enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])),
    storage: Type.Optional(Type.String({ minLength: 1 })),
    limits: Type.Optional(Type.String({ minLength: 1 })),
    limits_on_failure: Type.Optional(Type.Union([Type.Literal("open"), Type.Literal("closed")])),
    keys: Type.Optional(Type.Array(KeyConfig)),
    admin_keys: Type.Optional(Type.Array(Type.String({ minLength: 8 }))),
    server: Type.Optional(ServerOptions),
    models: Type.Optional(Type.Array(ModelConfig)),
    claude_code_model: Type.Optional(
      Type.String({ minLength: 1, description: "The model `parley claude` uses by default (id or alias)" }),
    ),
    public_url: Type.Optional(
      Type.String({ minLength: 1, description: "Base URL clients reach Parley at (results_url)" }),
    ),
    batches: Type.Optional(BatchOptions),
    files: Type.Optional(FileOptions),
    mcp: Type.Optional(McpOptions),
    metrics: Type.Optional(MetricsOptions),
  },
  Strict,
);

export type Capabilities = Static<typeof Capabilities>;
export type ModelContextManagement = Static<typeof ModelContextManagement>;
export type MockModelConfig = Static<typeof MockModelConfig>;
export type LlamaModelConfig = Static<typeof LlamaModelConfig>;
export type OpenAIModelConfig = Static<typeof OpenAIModelConfig>;
export type AnthropicModelConfig = Static<typeof AnthropicModelConfig>;
export type ModelConfig = MockModelConfig | LlamaModelConfig | OpenAIModelConfig | AnthropicModelConfig;
export type KeyConfig = Static<typeof KeyConfig>;

/** The MCP connector's settings with defaults applied; `allowed_hosts` absent = only public addresses. */
export interface McpConfig {
  allowed_hosts?: string[];
  connect_timeout_ms: number;
  list_timeout_ms: number;
  call_timeout_ms: number;
  tool_list_ttl_ms: number;
  max_iterations: number;
  max_loop_ms: number;
  max_result_bytes: number;
}
export type ConfigFile = Static<typeof ConfigFile>;

/** The config with every default applied: what the rest of Parley reads. */
export interface Config {
  listen: { host: string; port: number };
  data_dir: string;
  log_level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  storage: string;
  limits: string;
  limits_on_failure: "open" | "closed";
  keys: KeyConfig[];
  admin_keys: string[];
  server: {
    body_limit_mb: number;
    ping_interval_ms: number;
    shutdown_timeout_ms: number;
    body_timeout_ms: number;
    idle_timeout_ms: number;
    start_attempts: number;
    start_retry_ms: number;
  };
  models: ModelConfig[];
  /** The model `parley claude` uses without `--model`; unset: the `claude-code` alias, else the first model. */
  claude_code_model?: string;
  /** Base URL for absolute links such as `results_url`; absent: the request's own host. */
  public_url?: string;
  batches: {
    enabled: boolean;
    poll_interval_ms: number;
    lease_ms: number;
    max_requests: number;
    max_body_mb: number;
    expiry_hours: number;
    retention_days: number;
    max_attempts: number;
  };
  files: { dir: string; max_file_mb: number; allow_downloads: boolean };
  mcp: McpConfig;
  metrics: { enabled: boolean; require_admin_key: boolean };
  /** Where the config came from, for messages. */
  source: string;
}
