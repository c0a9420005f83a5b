import Type, { type Static } from "typebox";
import { TaggedUnion } from "./tagged.ts";

const Open = { additionalProperties: true } as const;

export const CacheControl = Type.Object(
  {
    type: Type.Literal("ephemeral"),
    ttl: Type.Optional(Type.Union([Type.Literal("5m"), Type.Literal("1h")])),
  },
  Open,
);
const cache_control = Type.Optional(Type.Union([CacheControl, Type.Null()]));

const Citations = Type.Optional(
  Type.Union([Type.Array(Type.Object({ type: Type.String() }, Open)), Type.Null()]),
);

export const TextBlockParam = Type.Object(
  { type: Type.Literal("text"), text: Type.String(), cache_control, citations: Citations },
  Open,
);

const ImageMediaType = Type.Union([
  Type.Literal("image/jpeg"),
  Type.Literal("image/png"),
  Type.Literal("image/gif"),
  Type.Literal("image/webp"),
]);

const UrlSource = Type.Object({ type: Type.Literal("url"), url: Type.String({ minLength: 1 }) }, Open);
const FileSource = Type.Object({ type: Type.Literal("file"), file_id: Type.String({ minLength: 1 }) }, Open);

export const ImageSource = TaggedUnion([
  Type.Object({ type: Type.Literal("base64"), media_type: ImageMediaType, data: Type.String() }, Open),
  UrlSource,
  FileSource,
]);

export const ImageBlockParam = Type.Object(
  { type: Type.Literal("image"), source: ImageSource, cache_control },
  Open,
);

const DocumentSource = TaggedUnion([
  Type.Object(
    { type: Type.Literal("base64"), media_type: Type.Literal("application/pdf"), data: Type.String() },
    Open,
  ),
  Type.Object(
    { type: Type.Literal("text"), media_type: Type.Literal("text/plain"), data: Type.String() },
    Open,
  ),
  Type.Object(
    {
      type: Type.Literal("content"),
      content: Type.Union([Type.String(), Type.Array(TaggedUnion([TextBlockParam, ImageBlockParam]))]),
    },
    Open,
  ),
  UrlSource,
  FileSource,
]);

export const DocumentBlockParam = Type.Object(
  {
    type: Type.Literal("document"),
    source: DocumentSource,
    title: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    context: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    cache_control,
  },
  Open,
);

export const SearchResultBlockParam = Type.Object(
  {
    type: Type.Literal("search_result"),
    source: Type.String(),
    title: Type.String(),
    content: Type.Array(TextBlockParam),
    cache_control,
  },
  Open,
);

export const ToolReferenceBlockParam = Type.Object(
  { type: Type.Literal("tool_reference"), tool_name: Type.String() },
  Open,
);

export const ToolUseBlockParam = Type.Object(
  {
    type: Type.Literal("tool_use"),
    id: Type.String({ minLength: 1 }),
    name: Type.String({ minLength: 1 }),
    input: Type.Record(Type.String(), Type.Unknown()),
    cache_control,
  },
  Open,
);

export const ToolResultContentBlock = TaggedUnion([
  TextBlockParam,
  ImageBlockParam,
  SearchResultBlockParam,
  DocumentBlockParam,
  ToolReferenceBlockParam,
]);

export const ToolResultBlockParam = Type.Object(
  {
    type: Type.Literal("tool_result"),
    tool_use_id: Type.String({ minLength: 1 }),
    content: Type.Optional(Type.Union([Type.String(), Type.Array(ToolResultContentBlock)])),
    is_error: Type.Optional(Type.Boolean()),
    cache_control,
  },
  Open,
);

export const ThinkingBlockParam = Type.Object(
  { type: Type.Literal("thinking"), thinking: Type.String(), signature: Type.String() },
  Open,
);

export const RedactedThinkingBlockParam = Type.Object(
  { type: Type.Literal("redacted_thinking"), data: Type.String() },
  Open,
);

export const ServerToolUseBlockParam = Type.Object(
  {
    type: Type.Literal("server_tool_use"),
    id: Type.String(),
    name: Type.String(),
    input: Type.Record(Type.String(), Type.Unknown()),
    cache_control,
  },
  Open,
);

/** An MCP tool call the MCP connector ran (beta `mcp-client-…`), sent back in a later turn. */
export const McpToolUseBlockParam = Type.Object(
  {
    type: Type.Literal("mcp_tool_use"),
    id: Type.String({ minLength: 1 }),
    name: Type.String({ minLength: 1 }),
    server_name: Type.String({ minLength: 1 }),
    input: Type.Unknown(),
    cache_control,
  },
  Open,
);

/** The result of an `mcp_tool_use`, in the same assistant turn. */
export const McpToolResultBlockParam = Type.Object(
  {
    type: Type.Literal("mcp_tool_result"),
    tool_use_id: Type.String({ minLength: 1 }),
    content: Type.Optional(Type.Union([Type.String(), Type.Array(TextBlockParam)])),
    is_error: Type.Optional(Type.Boolean()),
    cache_control,
  },
  Open,
);

/** A tool as an MCP server lists it (its own name, not prefixed with the server's). */
export const McpToolListingEntry = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    description: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    input_schema: Type.Record(Type.String(), Type.Unknown()),
  },
  Open,
);

/** A server's tool listing that an earlier reply carried; the connector may reuse it. */
export const McpToolListingBlockParam = Type.Object(
  {
    type: Type.Literal("mcp_tool_listing"),
    mcp_server_name: Type.String({ minLength: 1 }),
    tools: Type.Array(McpToolListingEntry),
  },
  Open,
);

/** Echoes of server-tool output that clients send back; Parley keeps them as opaque context. */
const serverResultTypes = [
  "web_search_tool_result",
  "web_fetch_tool_result",
  "code_execution_tool_result",
  "bash_code_execution_tool_result",
  "text_editor_code_execution_tool_result",
  "tool_search_tool_result",
  "container_upload",
] as const;

export const ServerToolResultBlockParam = Type.Object(
  { type: Type.Enum(serverResultTypes), cache_control },
  Open,
);

/**
 * A `compaction` block a client sends back (beta `compact-2026-01-12`): the summary replaces
 * everything before it. `content: null` is a failed compaction, which the server ignores.
 */
export const CompactionBlockParam = Type.Object(
  {
    type: Type.Literal("compaction"),
    content: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
    encrypted_content: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    signature: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    tool_changes: Type.Optional(Type.Union([Type.Array(Type.Object({}, Open)), Type.Null()])),
    cache_control,
  },
  Open,
);

const serverResultVariants = serverResultTypes.map((t) =>
  Type.Object({ type: Type.Literal(t), cache_control }, Open),
);

export const ContentBlockParam = TaggedUnion([
  TextBlockParam,
  ImageBlockParam,
  DocumentBlockParam,
  SearchResultBlockParam,
  ToolUseBlockParam,
  ToolResultBlockParam,
  ThinkingBlockParam,
  RedactedThinkingBlockParam,
  ServerToolUseBlockParam,
  CompactionBlockParam,
  McpToolUseBlockParam,
  McpToolResultBlockParam,
  McpToolListingBlockParam,
  ...serverResultVariants,
]);

export type CacheControl = Static<typeof CacheControl>;
export type TextBlockParam = Static<typeof TextBlockParam>;
export type ImageBlockParam = Static<typeof ImageBlockParam>;
export type DocumentBlockParam = Static<typeof DocumentBlockParam>;
export type SearchResultBlockParam = Static<typeof SearchResultBlockParam>;
export type ToolUseBlockParam = Static<typeof ToolUseBlockParam>;
export type ToolResultBlockParam = Static<typeof ToolResultBlockParam>;
export type ToolResultContentBlock = Static<typeof ToolResultContentBlock>;
export type ThinkingBlockParam = Static<typeof ThinkingBlockParam>;
export type RedactedThinkingBlockParam = Static<typeof RedactedThinkingBlockParam>;
export type ServerToolUseBlockParam = Static<typeof ServerToolUseBlockParam>;
export type ServerToolResultBlockParam = Static<typeof ServerToolResultBlockParam>;
export type CompactionBlockParam = Static<typeof CompactionBlockParam>;
export type McpToolUseBlockParam = Static<typeof McpToolUseBlockParam>;
export type McpToolResultBlockParam = Static<typeof McpToolResultBlockParam>;
export type McpToolListingEntry = Static<typeof McpToolListingEntry>;
export type McpToolListingBlockParam = Static<typeof McpToolListingBlockParam>;
export type ContentBlockParam =
  | TextBlockParam
  | ImageBlockParam
  | DocumentBlockParam
  | SearchResultBlockParam
  | ToolUseBlockParam
  | ToolResultBlockParam
  | ThinkingBlockParam
  | RedactedThinkingBlockParam
  | ServerToolUseBlockParam
  | CompactionBlockParam
  | McpToolUseBlockParam
  | McpToolResultBlockParam
  | McpToolListingBlockParam
  | ServerToolResultBlockParam;
