import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { McpToolResultBlock, TextBlock } from "../protocol/index.ts";

type ResultBody = Pick<McpToolResultBlock, "content" | "is_error">;

const text = (t: string): TextBlock => ({ type: "text", text: t, citations: null });

/**
 * An MCP tool result as `mcp_tool_result` content: text blocks (the hosted API's shape), other
 * content described in words, the whole cut to `maxBytes` of UTF-8 so one tool cannot flood the
 * model's context or Parley's memory.
 */
export function toResultBody(result: CallToolResult, maxBytes: number): ResultBody {
  const parts = result.content.map(describe);
  if (parts.length === 0 && result.structuredContent !== undefined)
    parts.push(JSON.stringify(result.structuredContent));
  return { is_error: result.isError === true, content: limit(parts, maxBytes).map(text) };
}

export function errorBody(message: string): ResultBody {
  return { is_error: true, content: [text(message)] };
}

function describe(part: CallToolResult["content"][number]): string {
  switch (part.type) {
    case "text":
      return part.text;
    case "image":
    case "audio":
      return `[${part.type} content (${part.mimeType}) omitted]`;
    case "resource":
      return "text" in part.resource ? part.resource.text : `[binary resource ${part.resource.uri} omitted]`;
    case "resource_link":
      return `[resource ${part.uri}${part.name ? ` (${part.name})` : ""}]`;
    default:
      return JSON.stringify(part);
  }
}

function limit(parts: string[], maxBytes: number): string[] {
  const out: string[] = [];
  let left = maxBytes;
  for (const p of parts) {
    const size = Buffer.byteLength(p);
    if (size <= left) {
      out.push(p);
      left -= size;
      continue;
    }
    const cut = Buffer.from(p)
      .subarray(0, Math.max(0, left))
      .toString("utf8")
      .replace(/\uFFFD$/, "");
    out.push(`${cut}\n[truncated: the tool result exceeded ${maxBytes} bytes]`);
    break;
  }
  return out;
}
