import Type, { type Static } from "typebox";

const Nullable = <T extends Type.TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const TextBlock = Type.Object({
  type: Type.Literal("text"),
  text: Type.String(),
  citations: Nullable(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
});
export const ThinkingBlock = Type.Object({
  type: Type.Literal("thinking"),
  thinking: Type.String(),
  signature: Type.String(),
});
export const RedactedThinkingBlock = Type.Object({
  type: Type.Literal("redacted_thinking"),
  data: Type.String(),
});
export const ToolUseBlock = Type.Object({
  type: Type.Literal("tool_use"),
  id: Type.String(),
  name: Type.String(),
  input: Type.Record(Type.String(), Type.Unknown()),
});
/** The summary a compaction pass wrote (beta `compact-2026-01-12`); clients send it back verbatim. */
export const CompactionBlock = Type.Object({
  type: Type.Literal("compaction"),
  content: Nullable(Type.String()),
  encrypted_content: Nullable(Type.String()),
});
/** A call the MCP connector ran on the model's behalf (beta `mcp-client-…`). */
export const McpToolUseBlock = Type.Object({
  type: Type.Literal("mcp_tool_use"),
  id: Type.String(),
  name: Type.String(),
  server_name: Type.String(),
  input: Type.Unknown(),
});
export const McpToolResultBlock = Type.Object({
  type: Type.Literal("mcp_tool_result"),
  tool_use_id: Type.String(),
  is_error: Type.Boolean(),
  content: Type.Union([Type.String(), Type.Array(TextBlock)]),
});
/** The tool listing the MCP connector fetched for this reply; sent back, it spares the next request a listing. */
export const McpToolListingBlock = Type.Object({
  type: Type.Literal("mcp_tool_listing"),
  mcp_server_name: Type.String(),
  tools: Type.Array(
    Type.Object({
      name: Type.String(),
      description: Type.Optional(Type.String()),
      input_schema: Type.Record(Type.String(), Type.Unknown()),
    }),
  ),
});
export const ContentBlock = Type.Union([
  TextBlock,
  ThinkingBlock,
  RedactedThinkingBlock,
  ToolUseBlock,
  CompactionBlock,
  McpToolUseBlock,
  McpToolResultBlock,
  McpToolListingBlock,
]);

export const StopReason = Type.Enum([
  "end_turn",
  "max_tokens",
  "stop_sequence",
  "tool_use",
  "pause_turn",
  "compaction",
  "refusal",
  "model_context_window_exceeded",
]);

const CacheCreation = Type.Object({
  ephemeral_5m_input_tokens: Type.Integer(),
  ephemeral_1h_input_tokens: Type.Integer(),
});

/** One sampling pass of a request (`usage.iterations`): a compaction pass or the reply itself. */
export const IterationUsage = Type.Object({
  type: Type.Union([Type.Literal("compaction"), Type.Literal("message")]),
  input_tokens: Type.Integer(),
  output_tokens: Type.Integer(),
  cache_creation_input_tokens: Type.Integer(),
  cache_read_input_tokens: Type.Integer(),
  cache_creation: Nullable(CacheCreation),
  model: Type.Optional(Nullable(Type.String())),
});

export const Usage = Type.Object({
  input_tokens: Type.Integer(),
  output_tokens: Type.Integer(),
  cache_creation_input_tokens: Nullable(Type.Integer()),
  cache_read_input_tokens: Nullable(Type.Integer()),
  cache_creation: Nullable(
    Type.Object({ ephemeral_5m_input_tokens: Type.Integer(), ephemeral_1h_input_tokens: Type.Integer() }),
  ),
  server_tool_use: Nullable(
    Type.Object({ web_search_requests: Type.Integer(), web_fetch_requests: Type.Integer() }),
  ),
  service_tier: Nullable(Type.String()),
  inference_geo: Nullable(Type.String()),
  output_tokens_details: Nullable(Type.Record(Type.String(), Type.Unknown())),
  speed: Type.Optional(Nullable(Type.String())),
  /** One entry per sampling pass: compaction, and each pass of a server-side tool loop. */
  iterations: Type.Optional(Nullable(Type.Array(IterationUsage))),
});

/** What context management did to the prompt (beta `context-management-2025-06-27`). */
export const AppliedEdit = Type.Union([
  Type.Object({
    type: Type.Literal("clear_tool_uses_20250919"),
    cleared_input_tokens: Type.Integer(),
    cleared_tool_uses: Type.Integer(),
  }),
  Type.Object({
    type: Type.Literal("clear_thinking_20251015"),
    cleared_input_tokens: Type.Integer(),
    cleared_thinking_turns: Type.Integer(),
  }),
]);
export const ContextManagementResponse = Type.Object({ applied_edits: Type.Array(AppliedEdit) });

export const Message = Type.Object({
  id: Type.String(),
  type: Type.Literal("message"),
  role: Type.Literal("assistant"),
  model: Type.String(),
  content: Type.Array(ContentBlock),
  stop_reason: Nullable(StopReason),
  stop_sequence: Nullable(Type.String()),
  usage: Usage,
  container: Type.Optional(Type.Null()),
  diagnostics: Type.Optional(Type.Null()),
  stop_details: Type.Optional(Type.Null()),
  context_management: Type.Optional(Nullable(ContextManagementResponse)),
});

export const ErrorType = Type.Enum([
  "invalid_request_error",
  "authentication_error",
  "billing_error",
  "permission_error",
  "not_found_error",
  "request_too_large",
  "rate_limit_error",
  "api_error",
  "timeout_error",
  "overloaded_error",
]);

export const ErrorBody = Type.Object({ type: ErrorType, message: Type.String() });
export const ErrorEnvelope = Type.Object({
  type: Type.Literal("error"),
  error: ErrorBody,
  request_id: Type.Optional(Type.String()),
});

export const CountTokensResponse = Type.Object({
  input_tokens: Type.Integer(),
  context_management: Type.Optional(Nullable(Type.Object({ original_input_tokens: Type.Integer() }))),
});

export type TextBlock = Static<typeof TextBlock>;
export type ThinkingBlock = Static<typeof ThinkingBlock>;
export type RedactedThinkingBlock = Static<typeof RedactedThinkingBlock>;
export type ToolUseBlock = Static<typeof ToolUseBlock>;
export type CompactionBlock = Static<typeof CompactionBlock>;
export type McpToolUseBlock = Static<typeof McpToolUseBlock>;
export type McpToolResultBlock = Static<typeof McpToolResultBlock>;
export type McpToolListingBlock = Static<typeof McpToolListingBlock>;
export type ContentBlock =
  | TextBlock
  | ThinkingBlock
  | RedactedThinkingBlock
  | ToolUseBlock
  | CompactionBlock
  | McpToolUseBlock
  | McpToolResultBlock
  | McpToolListingBlock;
export type IterationUsage = Static<typeof IterationUsage>;
export type AppliedEdit = Static<typeof AppliedEdit>;
export type ContextManagementResponse = Static<typeof ContextManagementResponse>;
export type StopReason = Static<typeof StopReason>;
export type Usage = Static<typeof Usage>;
export type Message = Static<typeof Message>;
export type ErrorType = Static<typeof ErrorType>;
export type ErrorEnvelope = Static<typeof ErrorEnvelope>;

export type ContentDelta =
  | { type: "text_delta"; text: string }
  | { type: "input_json_delta"; partial_json: string }
  | { type: "thinking_delta"; thinking: string }
  | { type: "signature_delta"; signature: string }
  | { type: "citations_delta"; citation: Record<string, unknown> }
  | { type: "compaction_delta"; content: string | null; encrypted_content: string | null };

export interface MessageDeltaUsage {
  output_tokens: number;
  input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  iterations?: IterationUsage[] | null;
}

/** Anthropic's streaming event union: the only thing that crosses the provider boundary. */
export type StreamEvent =
  | { type: "message_start"; message: Message }
  | { type: "content_block_start"; index: number; content_block: ContentBlock }
  | { type: "content_block_delta"; index: number; delta: ContentDelta }
  | { type: "content_block_stop"; index: number }
  | {
      type: "message_delta";
      delta: { stop_reason: StopReason | null; stop_sequence: string | null };
      usage: MessageDeltaUsage;
      context_management?: ContextManagementResponse | null;
    }
  | { type: "message_stop" }
  | { type: "ping" }
  | { type: "error"; error: { type: ErrorType; message: string } };
