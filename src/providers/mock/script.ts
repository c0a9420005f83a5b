import {
  ApiError,
  composeMcpToolName,
  invalidRequest,
  type MessageRequest,
  statusForErrorType,
} from "../../protocol/index.ts";
import { toolResultText } from "./tokens.ts";

export interface ScriptedTool {
  name: string;
  input?: Record<string, unknown>;
}

/** What the last user turn asks the mock to do. See "The mock backend" in the README. */
export interface MockScript {
  /** The text to echo: the last user turn's text with directives removed. */
  text: string;
  tools: ScriptedTool[];
  /** `[[error:529]]`: fail before the reply starts with this HTTP status. */
  errorStatus?: number;
  /** `[[stream-error]]`: send the text, then an `error` event. */
  streamError: boolean;
  /** `[[delay:MS]]`: wait this long before each streamed delta. */
  delayMs: number;
}

const DIRECTIVE = /\[\[(tool|mcp|error|delay|stream-error)(?::([^\]\s]+))?(?:\s+(\{[\s\S]*?\}))?\]\]/g;
const MAX_DELAY_MS = 60_000;

export function readScript(req: MessageRequest): MockScript {
  const script: MockScript = { text: "", tools: [], streamError: false, delayMs: 0 };
  const source = lastUserText(req);
  script.text = source
    .replace(DIRECTIVE, (_m, kind: string, arg: string | undefined, json: string | undefined) => {
      applyDirective(script, kind, arg, json);
      return "";
    })
    .trim();
  return script;
}

function applyDirective(
  script: MockScript,
  kind: string,
  arg: string | undefined,
  json: string | undefined,
): void {
  if (kind === "tool" && arg)
    script.tools.push({ name: arg, input: json ? parseInput(arg, json) : undefined });
  // `[[mcp:SERVER/TOOL {json}]]` calls an MCP tool by the name the connector offers it under.
  else if (kind === "mcp" && arg?.includes("/")) {
    const [server, tool] = [arg.slice(0, arg.indexOf("/")), arg.slice(arg.indexOf("/") + 1)];
    script.tools.push({
      name: composeMcpToolName(server, tool),
      input: json ? parseInput(arg, json) : undefined,
    });
  } else if (kind === "error") script.errorStatus = Number(arg);
  else if (kind === "delay") script.delayMs = Math.min(MAX_DELAY_MS, Math.max(0, Number(arg) || 0));
  else if (kind === "stream-error") script.streamError = true;
}

function parseInput(name: string, json: string): Record<string, unknown> {
  try {
    const value = JSON.parse(json);
    if (value && typeof value === "object" && !Array.isArray(value)) return value;
  } catch {}
  throw invalidRequest(`messages: the mock directive [[tool:${name} …]] needs a JSON object as input`);
}

/** A text block that is wholly Claude Code's injected context, not something the user typed. */
const INJECTED_CONTEXT = /^\s*<system-reminder>[\s\S]*<\/system-reminder>\s*$/;

/** The text of the last user turn: its text blocks (less injected context), else its tool results. */
function lastUserText(req: MessageRequest): string {
  const turn = [...req.messages].reverse().find((t) => t.role === "user");
  if (!turn) return "";
  const texts = turn.content.flatMap((b) =>
    b.type === "text" && !INJECTED_CONTEXT.test(b.text) ? [b.text] : [],
  );
  if (texts.length) return texts.join("\n");
  return turn.content
    .flatMap((b) => (b.type === "tool_result" ? [toolResultText(b.content)] : []))
    .join("\n");
}

const TYPE_BY_STATUS: Record<number, ApiError["type"]> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  504: "timeout_error",
  529: "overloaded_error",
};

/** The error a `[[error:STATUS]]` directive asks for. */
export function scriptedError(status: number): ApiError {
  const type = TYPE_BY_STATUS[status] ?? "api_error";
  const code = TYPE_BY_STATUS[status] ? status : statusForErrorType(type);
  const headers: Record<string, string> = code === 429 ? { "retry-after": "1" } : {};
  return new ApiError(code, type, `Mock error ${code} requested by [[error:${status}]]`, headers);
}
