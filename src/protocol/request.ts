import { invalidRequest } from "./errors.ts";
import type {
  ContentBlockParam,
  CountTokensParams,
  McpServerParam,
  McpToolsetParam,
  MessageCreateParams,
  RequestToolParam,
  TextBlockParam,
  ThinkingConfig,
  ToolChoice,
  ToolParam,
} from "./schema/index.ts";

export type Role = "user" | "assistant" | "system";

/** A conversation turn with block content; consecutive same-role turns already merged. */
export interface Turn {
  role: Role;
  content: ContentBlockParam[];
}

export type ApiVersion = "2023-06-01" | "2026-10-21";

/** What the client sent alongside the body that shapes the reply. */
export interface RequestContext {
  apiVersion: ApiVersion;
  /** The header as sent, for pass-through to Anthropic upstreams. */
  rawApiVersion: string;
  betas: string[];
}

/** The validated, normalised request every provider receives. Field names stay the wire's. */
export interface MessageRequest {
  /** The body as the client sent it (after validation), for pass-through providers. */
  params: MessageCreateParams;
  model: string;
  max_tokens: number;
  stream: boolean;
  system: TextBlockParam[];
  messages: Turn[];
  /** The client's own tools (and versioned ones); MCP toolsets are in `mcp_toolsets`. */
  tools: ToolParam[];
  tool_choice: ToolChoice;
  /** Beta MCP connector: the servers the request names, and the `mcp_toolset` entries of `tools`. */
  mcp_servers: McpServerParam[];
  mcp_toolsets: McpToolsetParam[];
  stop_sequences: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  thinking?: ThinkingConfig;
  /** Structured output: `output_config.format` or the beta top-level `output_format`. */
  output_schema?: Record<string, unknown>;
  context: RequestContext;
}

export const API_VERSIONS: readonly ApiVersion[] = ["2023-06-01", "2026-10-21"];

/** Maps the `anthropic-version` header to the reply shape to use; absent means 2023-06-01. */
export function parseApiVersion(header: string | undefined): ApiVersion {
  if (!header) return "2023-06-01";
  const v = header.trim();
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) {
    throw invalidRequest(`anthropic-version: '${v}' is not a valid version. Use 2023-06-01 or 2026-10-21.`);
  }
  return v >= "2026-10-21" ? "2026-10-21" : "2023-06-01";
}

export function parseBetas(header: string | string[] | undefined): string[] {
  const raw = Array.isArray(header) ? header.join(",") : (header ?? "");
  return [
    ...new Set(
      raw
        .split(",")
        .map((b) => b.trim())
        .filter(Boolean),
    ),
  ];
}

export function toBlocks(content: string | ContentBlockParam[]): ContentBlockParam[] {
  return typeof content === "string" ? (content === "" ? [] : [{ type: "text", text: content }]) : content;
}

export function toTurns(messages: MessageCreateParams["messages"]): Turn[] {
  const turns: Turn[] = [];
  for (const m of messages) {
    const blocks = toBlocks(m.content);
    const last = turns[turns.length - 1];
    if (last && last.role === m.role) last.content = [...last.content, ...blocks];
    else turns.push({ role: m.role, content: blocks });
  }
  return turns;
}

export function toMessageRequest(params: MessageCreateParams, context: RequestContext): MessageRequest {
  checkMessages(params.messages);
  const all = params.tools ?? [];
  const tools = all.filter((t) => !isToolset(t)) as ToolParam[];
  const mcp_toolsets = all.filter(isToolset);
  const mcp_servers = params.mcp_servers ?? [];
  const tool_choice = params.tool_choice ?? { type: "auto" };
  checkTools(all, tool_choice, mcp_servers.length > 0);
  const forced = tool_choice.type === "any" || tool_choice.type === "tool";
  if (forced && params.thinking && params.thinking.type !== "disabled") {
    throw invalidRequest("Thinking may not be enabled when tool_choice forces tool use.");
  }
  const format = params.output_config?.format ?? params.output_format ?? undefined;
  return {
    params,
    model: params.model,
    max_tokens: params.max_tokens,
    stream: params.stream === true,
    system:
      typeof params.system === "string"
        ? (toBlocks(params.system) as TextBlockParam[])
        : (params.system ?? []),
    messages: toTurns(params.messages),
    tools,
    tool_choice,
    mcp_servers,
    mcp_toolsets,
    stop_sequences: params.stop_sequences ?? [],
    temperature: params.temperature,
    top_p: params.top_p,
    top_k: params.top_k,
    thinking: params.thinking,
    output_schema: format?.schema,
    context,
  };
}

/** count_tokens takes the prompt fields only; it is normalised the same way. */
export function toCountRequest(params: CountTokensParams, context: RequestContext): MessageRequest {
  return toMessageRequest({ ...params, max_tokens: 0 }, context);
}

function checkMessages(messages: MessageCreateParams["messages"]): void {
  if (messages.length === 0) throw invalidRequest("messages: at least one message is required");
  messages.forEach((m, i) => {
    const empty = typeof m.content === "string" ? m.content === "" : m.content.length === 0;
    const finalAssistant = i === messages.length - 1 && m.role === "assistant";
    if (empty && !finalAssistant) {
      throw invalidRequest(
        `messages.${i}: all messages must have non-empty content except for the optional final assistant message`,
      );
    }
  });
  checkToolPairs(messages);
}

/** The ids of the blocks of one type, by a loop: this runs for every turn of every request. */
function blockIds(content: string | ContentBlockParam[], type: "tool_use" | "tool_result"): string[] {
  const ids: string[] = [];
  if (typeof content === "string") return ids;
  for (const b of content) {
    if (b.type === "tool_use" && type === "tool_use") ids.push(b.id);
    else if (b.type === "tool_result" && type === "tool_result") ids.push(b.tool_use_id);
  }
  return ids;
}

/** Every tool_use must be answered by a tool_result in the next non-system turn, and vice versa. */
function checkToolPairs(messages: MessageCreateParams["messages"]): void {
  let pending: { ids: Set<string>; index: number } | undefined;
  messages.forEach((m, i) => {
    if (m.role === "system") return;
    const blocks = typeof m.content === "string" ? [] : m.content;
    const resultIds = blockIds(blocks, "tool_result");
    blocks.forEach((b, j) => {
      if (b.type === "tool_result" && !pending?.ids.has(b.tool_use_id)) {
        throw invalidRequest(
          `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${b.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
        );
      }
    });
    if (pending) {
      const missing = [...pending.ids].filter((id) => !resultIds.includes(id));
      if (missing.length) {
        throw invalidRequest(
          `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
        );
      }
    }
    const ids = m.role === "assistant" ? blockIds(m.content, "tool_use") : [];
    pending = ids.length ? { ids: new Set(ids), index: i } : undefined;
  });
}

const isToolset = (t: RequestToolParam): t is McpToolsetParam => t.type === "mcp_toolset";

/** With MCP servers, a forced choice may name an MCP tool: the connector checks it once it has listed them. */
function checkTools(all: RequestToolParam[], choice: ToolChoice, mcp: boolean): void {
  const seen = new Set<string>();
  const tools = all.filter((t) => !isToolset(t));
  all.forEach((entry, i) => {
    if (isToolset(entry)) return;
    const t = entry as ToolParam;
    if (seen.has(t.name)) throw invalidRequest(`tools.${i}.name: Tool names must be unique (${t.name})`);
    seen.add(t.name);
  });
  if ((choice.type === "any" || choice.type === "tool") && tools.length === 0 && !mcp) {
    throw invalidRequest("tool_choice: may only be specified while providing tools");
  }
  if (choice.type === "tool" && !seen.has(choice.name) && !mcp) {
    throw invalidRequest(`tool_choice.name: tool '${choice.name}' is not among the provided tools`);
  }
}

/** True when the request asks the model to think (enabled, adaptive, between_tools). */
export function wantsThinking(req: MessageRequest): boolean {
  return req.thinking !== undefined && req.thinking.type !== "disabled";
}
