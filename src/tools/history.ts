import type {
  ContentBlockParam,
  McpToolListingBlockParam,
  McpToolResultBlockParam,
  McpToolUseBlockParam,
  ToolResultBlockParam,
  ToolUseBlockParam,
  Turn,
} from "../protocol/index.ts";

export type ModelToolName = (server: string, tool: string) => string;

/**
 * Renders the connector's blocks in earlier turns as the plain tool calls and results every
 * backend understands: an assistant turn `[text, mcp_tool_use, mcp_tool_result, text]` becomes
 * `assistant [text, tool_use]`, `user [tool_result]`, `assistant [text]`. Results left at the end
 * of an assistant turn join the next user turn (before the client's own results), and
 * `mcp_tool_listing` blocks, which only carry a cache, are dropped.
 */
export function renderMcpHistory(turns: Turn[], modelName: ModelToolName): Turn[] {
  if (!turns.some((t) => t.content.some(isConnectorBlock))) return turns;
  const out: Turn[] = [];
  let carried: ToolResultBlockParam[] = [];
  for (const turn of turns) {
    if (turn.role !== "assistant") {
      const content = turn.content.filter((b) => b.type !== "mcp_tool_listing");
      if (carried.length && turn.role === "user")
        out.push({ role: "user", content: [...carried, ...content] });
      else {
        if (carried.length) out.push({ role: "user", content: carried });
        out.push({ role: turn.role, content });
      }
      carried = [];
      continue;
    }
    if (carried.length) out.push({ role: "user", content: carried });
    carried = splitAssistantTurn(turn.content, modelName, out);
  }
  if (carried.length) out.push({ role: "user", content: carried });
  return out;
}

/** Pushes the assistant (and interleaved user) turns of one assistant turn; returns its trailing results. */
function splitAssistantTurn(
  content: ContentBlockParam[],
  modelName: ModelToolName,
  out: Turn[],
): ToolResultBlockParam[] {
  let blocks: ContentBlockParam[] = [];
  let results: ToolResultBlockParam[] = [];
  for (const b of content) {
    if (b.type === "mcp_tool_listing") continue;
    if (b.type === "mcp_tool_result") {
      results.push(asToolResult(b));
      continue;
    }
    if (results.length) {
      out.push({ role: "assistant", content: blocks }, { role: "user", content: results });
      blocks = [];
      results = [];
    }
    blocks.push(b.type === "mcp_tool_use" ? asToolUse(b, modelName) : b);
  }
  if (blocks.length) out.push({ role: "assistant", content: blocks });
  return results;
}

const isConnectorBlock = (b: ContentBlockParam) =>
  b.type === "mcp_tool_use" || b.type === "mcp_tool_result" || b.type === "mcp_tool_listing";

function asToolUse(b: McpToolUseBlockParam, modelName: ModelToolName): ToolUseBlockParam {
  const input = b.input && typeof b.input === "object" && !Array.isArray(b.input) ? b.input : {};
  return {
    type: "tool_use",
    id: b.id,
    name: modelName(b.server_name, b.name),
    input: input as Record<string, unknown>,
  };
}

function asToolResult(b: McpToolResultBlockParam): ToolResultBlockParam {
  const content =
    typeof b.content === "string"
      ? b.content
      : (b.content ?? []).map((t) => ({ type: "text" as const, text: t.text }));
  return {
    type: "tool_result",
    tool_use_id: b.tool_use_id,
    content,
    ...(b.is_error ? { is_error: true } : {}),
  };
}

/** Tool listings earlier replies carried, by server: the connector may use them instead of asking again. */
export function listingsInHistory(turns: Turn[]): Map<string, McpToolListingBlockParam> {
  const found = new Map<string, McpToolListingBlockParam>();
  for (const t of turns)
    for (const b of t.content) if (b.type === "mcp_tool_listing") found.set(b.mcp_server_name, b);
  return found;
}
