import Type, { type Static } from "typebox";
import { CacheControl, ContentBlockParam, McpToolListingEntry, TextBlockParam } from "./blocks.ts";
import { EFFORT_VALUES, OpenEnum, THINKING_DISPLAY_VALUES } from "./open-enum.ts";
import { TaggedUnion } from "./tagged.ts";

const Open = { additionalProperties: true } as const;

export const MessageParam = Type.Object(
  {
    role: Type.Union([Type.Literal("user"), Type.Literal("assistant"), Type.Literal("system")]),
    content: Type.Union([Type.String(), Type.Array(ContentBlockParam)]),
  },
  Open,
);

export const TOOL_NAME_PATTERN = "^[a-zA-Z0-9_-]{1,128}$";

const JsonObjectSchema = Type.Object(
  { type: Type.Literal("object"), properties: Type.Optional(Type.Record(Type.String(), Type.Unknown())) },
  { additionalProperties: true, description: "A JSON Schema whose top level is an object" },
);

export const CustomTool = Type.Object(
  {
    type: Type.Optional(Type.Union([Type.Literal("custom"), Type.Null()])),
    name: Type.String({ pattern: TOOL_NAME_PATTERN }),
    description: Type.Optional(Type.String()),
    input_schema: JsonObjectSchema,
    cache_control: Type.Optional(Type.Union([CacheControl, Type.Null()])),
    strict: Type.Optional(Type.Boolean()),
  },
  Open,
);

/** Versioned tools (`web_search_20250305`, `bash_20250124`, …): their schema is the API's, not the client's. */
export const VersionedTool = Type.Object(
  {
    type: Type.String({ pattern: "^[a-z_]+_[0-9]{8}$" }),
    name: Type.String({ pattern: TOOL_NAME_PATTERN }),
    cache_control: Type.Optional(Type.Union([CacheControl, Type.Null()])),
  },
  Open,
);

const McpToolConfig = Type.Object(
  { enabled: Type.Optional(Type.Boolean()), defer_loading: Type.Optional(Type.Boolean()) },
  Open,
);

/** Beta `mcp-client-2025-11-20`: which tools of a declared MCP server the model is offered. */
export const McpToolsetParam = Type.Object(
  {
    type: Type.Literal("mcp_toolset"),
    mcp_server_name: Type.String({ minLength: 1 }),
    default_config: Type.Optional(McpToolConfig),
    configs: Type.Optional(Type.Union([Type.Record(Type.String(), McpToolConfig), Type.Null()])),
    tools: Type.Optional(Type.Union([Type.Array(McpToolListingEntry), Type.Null()])),
    cache_control: Type.Optional(Type.Union([CacheControl, Type.Null()])),
  },
  Open,
);

const notCustom = { required: ["type"], properties: { type: { type: "string", not: { const: "custom" } } } };

/** A tool as the body sends it: a client tool, a versioned tool, or an MCP toolset. */
export const RequestToolParam = Type.Unsafe<
  Static<typeof CustomTool> | Static<typeof VersionedTool> | Static<typeof McpToolsetParam>
>({
  type: "object",
  if: { required: ["type"], properties: { type: { const: "mcp_toolset" } } },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema keyword
  then: McpToolsetParam,
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema keyword
  else: { if: notCustom, then: VersionedTool, else: CustomTool },
});

/** Beta MCP connector: a remote server the request may use (`tool_configuration` is the 2025-04-04 shape). */
export const McpServerParam = Type.Object(
  {
    type: Type.Literal("url"),
    url: Type.String({ minLength: 1 }),
    name: Type.String({ minLength: 1 }),
    authorization_token: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    tool_configuration: Type.Optional(
      Type.Union([
        Type.Object(
          {
            enabled: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
            allowed_tools: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()])),
          },
          Open,
        ),
        Type.Null(),
      ]),
    ),
  },
  Open,
);

const disable_parallel_tool_use = Type.Optional(Type.Boolean());

export const ToolChoice = TaggedUnion([
  Type.Object({ type: Type.Literal("auto"), disable_parallel_tool_use }, Open),
  Type.Object({ type: Type.Literal("any"), disable_parallel_tool_use }, Open),
  Type.Object(
    { type: Type.Literal("tool"), name: Type.String({ minLength: 1 }), disable_parallel_tool_use },
    Open,
  ),
  Type.Object({ type: Type.Literal("none") }, Open),
]);

const ThinkingDisplay = Type.Optional(OpenEnum(THINKING_DISPLAY_VALUES, "How thinking is shown"));

export const ThinkingConfig = TaggedUnion([
  Type.Object(
    {
      type: Type.Literal("enabled"),
      budget_tokens: Type.Integer({ minimum: 1024 }),
      display: ThinkingDisplay,
    },
    Open,
  ),
  Type.Object({ type: Type.Literal("disabled") }, Open),
  Type.Object({ type: Type.Literal("adaptive"), display: ThinkingDisplay }, Open),
  Type.Object({ type: Type.Literal("between_tools") }, Open),
]);

export const JsonSchemaFormat = Type.Object(
  { type: Type.Literal("json_schema"), schema: Type.Record(Type.String(), Type.Unknown()) },
  Open,
);

export const OutputConfig = Type.Object(
  {
    effort: Type.Optional(OpenEnum(EFFORT_VALUES, "How much effort the model spends")),
    format: Type.Optional(Type.Union([JsonSchemaFormat, Type.Null()])),
  },
  Open,
);

export const Metadata = Type.Object(
  { user_id: Type.Optional(Type.Union([Type.String(), Type.Null()])) },
  Open,
);

const InputTokens = Type.Object({ type: Type.Literal("input_tokens"), value: Type.Integer({ minimum: 1 }) });
const ToolUses = Type.Object({ type: Type.Literal("tool_uses"), value: Type.Integer({ minimum: 0 }) });

/** Beta `context-management-2025-06-27`: clear the oldest tool results once a trigger is passed. */
export const ClearToolUsesEdit = Type.Object({
  type: Type.Literal("clear_tool_uses_20250919"),
  trigger: Type.Optional(TaggedUnion([InputTokens, ToolUses])),
  keep: Type.Optional(ToolUses),
  clear_at_least: Type.Optional(Type.Union([InputTokens, Type.Null()])),
  exclude_tools: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()])),
  clear_tool_inputs: Type.Optional(Type.Union([Type.Boolean(), Type.Array(Type.String()), Type.Null()])),
});

/** Clear the thinking blocks of older assistant turns. */
export const ClearThinkingEdit = Type.Object({
  type: Type.Literal("clear_thinking_20251015"),
  keep: Type.Optional(
    Type.Union([
      Type.Object({ type: Type.Literal("thinking_turns"), value: Type.Integer({ minimum: 0 }) }),
      Type.Object({ type: Type.Literal("all") }),
      Type.Literal("all"),
    ]),
  ),
});

/** Beta `compact-2026-01-12`: summarise the conversation once the trigger is passed. */
export const CompactEdit = Type.Object({
  type: Type.Literal("compact_20260112"),
  trigger: Type.Optional(Type.Union([InputTokens, Type.Null()])),
  instructions: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  pause_after_compaction: Type.Optional(Type.Boolean()),
});

export const ContextEdit = TaggedUnion([ClearToolUsesEdit, ClearThinkingEdit, CompactEdit]);

export const ContextManagement = Type.Object({ edits: Type.Optional(Type.Array(ContextEdit)) }, Open);

/** Fields shared by create and count_tokens. */
const promptFields = {
  model: Type.String({ minLength: 1 }),
  messages: Type.Array(MessageParam),
  system: Type.Optional(Type.Union([Type.String(), Type.Array(TextBlockParam)])),
  tools: Type.Optional(Type.Array(RequestToolParam)),
  tool_choice: Type.Optional(ToolChoice),
  thinking: Type.Optional(ThinkingConfig),
  output_config: Type.Optional(OutputConfig),
  output_format: Type.Optional(Type.Union([JsonSchemaFormat, Type.Null()])),
  context_management: Type.Optional(Type.Union([ContextManagement, Type.Null()])),
  cache_control: Type.Optional(Type.Union([CacheControl, Type.Null()])),
  speed: Type.Optional(Type.Union([Type.Literal("standard"), Type.Literal("fast"), Type.Null()])),
  mcp_servers: Type.Optional(Type.Array(McpServerParam)),
};

export const MessageCreateParams = Type.Object(
  {
    ...promptFields,
    max_tokens: Type.Integer({ minimum: 0 }),
    stream: Type.Optional(Type.Boolean()),
    stop_sequences: Type.Optional(Type.Array(Type.String())),
    temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    top_k: Type.Optional(Type.Integer({ minimum: 0 })),
    metadata: Type.Optional(Metadata),
    service_tier: Type.Optional(Type.Union([Type.Literal("auto"), Type.Literal("standard_only")])),
    container: Type.Optional(Type.Unknown()),
    inference_geo: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    diagnostics: Type.Optional(Type.Union([Type.Object({}, Open), Type.Null()])),
  },
  { additionalProperties: true, description: "Body of POST /v1/messages" },
);

export const CountTokensParams = Type.Object(promptFields, {
  additionalProperties: true,
  description: "Body of POST /v1/messages/count_tokens",
});

/** Top-level fields Parley knows; anything else is accepted and logged at debug. */
export const KNOWN_CREATE_FIELDS = new Set([...Object.keys(MessageCreateParams.properties)]);

export type MessageParam = Static<typeof MessageParam>;
export type CustomTool = Static<typeof CustomTool>;
export type VersionedTool = Static<typeof VersionedTool>;
/** A tool the model is offered as the providers see it (MCP toolsets are resolved before them). */
export type ToolParam = CustomTool | VersionedTool;
export type McpToolsetParam = Static<typeof McpToolsetParam>;
export type McpServerParam = Static<typeof McpServerParam>;
export type RequestToolParam = ToolParam | McpToolsetParam;
export type ToolChoice = Static<typeof ToolChoice>;
export type ThinkingConfig = Static<typeof ThinkingConfig>;
export type MessageCreateParams = Static<typeof MessageCreateParams>;
export type CountTokensParams = Static<typeof CountTokensParams>;
export type ClearToolUsesEdit = Static<typeof ClearToolUsesEdit>;
export type ClearThinkingEdit = Static<typeof ClearThinkingEdit>;
export type CompactEdit = Static<typeof CompactEdit>;
export type ContextEdit = ClearToolUsesEdit | ClearThinkingEdit | CompactEdit;
export type ContextManagement = Static<typeof ContextManagement>;
export type { ContentBlockParam };
