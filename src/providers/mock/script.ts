import { setImmediate as nextTurn } from "node:timers/promises";
import {
  ApiError,
  composeMcpToolName,
  invalidRequest,
  type MessageRequest,
  statusForErrorType,
} from "../../protocol/index.ts";
import { isSpace, toolResultText } from "./tokens.ts";

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

const KINDS = ["tool", "mcp", "error", "delay", "stream-error"] as const;
/** The first letters of KINDS: most `[[` in hostile text are rejected on one comparison. */
const KIND_START = new Set(KINDS.map((k) => k.charCodeAt(0)));
const MAX_DELAY_MS = 60_000;
/** Longest directive argument (a tool name, a status, a delay) and space before its JSON. */
const MAX_ARG = 256;
/** Text scanned for directives per turn of the event loop. */
const SLICE_CHARS = 64 * 1024;

/**
 * Reads the `[[kind:arg {json}]]` directives out of the last user turn. Same grammar as the
 * regex `\[\[(kind)(?::([^\]\s]+))?(?:\s+(\{[\s\S]*?\}))?\]\]` (arguments, and the space before
 * the JSON, up to 256 characters), but in linear time: one pass over the text, and the
 * search for the `}]]` that closes the JSON is remembered across openers, so text full of
 * unclosed `[[tool:x {` costs one pass, not one pass per opener.
 */
export async function readScript(req: MessageRequest): Promise<MockScript> {
  const script: MockScript = { text: "", tools: [], streamError: false, delayMs: 0 };
  const source = lastUserText(req);
  const jsonClose = new NextIndex(source, "}]]");
  // Every directive ends in `]]`: openers past the last one cannot start one.
  const lastClose = source.lastIndexOf("]]");
  let out = "";
  let copied = 0;
  let scannedTo = 0;
  // indexOf finds each opener natively: a long text without directives costs no JS loop per character.
  for (let p = source.indexOf("[[", 0); p >= 0 && p < lastClose; p = source.indexOf("[[", p + 1)) {
    // A text full of openers is read a slice per turn of the event loop, so no request holds it.
    if (p - scannedTo > SLICE_CHARS) {
      scannedTo = p;
      await nextTurn();
    }
    const d = directiveAt(source, p, jsonClose);
    if (!d) continue;
    applyDirective(script, d.kind, d.arg, d.json);
    out += source.slice(copied, p);
    copied = d.end;
    p = d.end - 1;
  }
  script.text = (out + source.slice(copied)).trim();
  return script;
}

/** `indexOf(needle, from)` for non-decreasing `from`, each character scanned once. */
class NextIndex {
  private found = -2;
  private readonly text: string;
  private readonly needle: string;
  constructor(text: string, needle: string) {
    this.text = text;
    this.needle = needle;
  }
  from(i: number): number {
    if (this.found === -1 || this.found >= i) return this.found;
    this.found = this.text.indexOf(this.needle, i);
    return this.found;
  }
}

interface Directive {
  kind: string;
  arg: string | undefined;
  json: string | undefined;
  /** Index just past the closing `]]`. */
  end: number;
}

function directiveAt(s: string, p: number, jsonClose: NextIndex): Directive | undefined {
  if (!KIND_START.has(s.charCodeAt(p + 2))) return undefined;
  const kind = KINDS.find((k) => s.startsWith(k, p + 2));
  if (!kind) return undefined;
  let q = p + 2 + kind.length;
  let arg: string | undefined;
  if (s[q] === ":") {
    let r = q + 1;
    while (r < s.length && r - q <= MAX_ARG && s[r] !== "]" && !isSpace(s.charCodeAt(r))) r++;
    if (r === q + 1 || r - q > MAX_ARG) return undefined;
    arg = s.slice(q + 1, r);
    q = r;
  }
  if (s.startsWith("]]", q)) return { kind, arg, json: undefined, end: q + 2 };
  let w = q;
  while (w < s.length && w - q <= MAX_ARG && isSpace(s.charCodeAt(w))) w++;
  if (w === q || s[w] !== "{") return undefined;
  const end = jsonClose.from(w + 1);
  if (end < 0) return undefined;
  return { kind, arg, json: s.slice(w, end + 1), end: end + 3 };
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

/**
 * The text of the last user turn: its text blocks (less injected context), else its tool results.
 * Loops, not a reversed copy and flatMap: V8's flatMap is a generic builtin that is not inlined,
 * and this runs on every mock request.
 */
function lastUserText(req: MessageRequest): string {
  const turn = req.messages.findLast((t) => t.role === "user");
  if (!turn) return "";
  const texts: string[] = [];
  for (const b of turn.content) if (b.type === "text" && !INJECTED_CONTEXT.test(b.text)) texts.push(b.text);
  if (texts.length) return texts.join("\n");
  const results: string[] = [];
  for (const b of turn.content) if (b.type === "tool_result") results.push(toolResultText(b.content));
  return results.join("\n");
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
