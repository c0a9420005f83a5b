import type { ContentBlockParam, MessageRequest } from "../../protocol/index.ts";

/**
 * The mock's tokenizer: a token is a run of non-space characters with the spaces after it
 * (leading spaces are a token of their own). Joining the tokens gives back the text.
 */
export function mockTokens(text: string): string[] {
  return [...eachMockToken(text)];
}

/**
 * The tokens one at a time, so a reply cut by max_tokens never splits the whole of a long text.
 * Same tokens as the sticky regex `^\s+|\S+\s*` it replaced, found by char code: no match object
 * per token.
 */
export function* eachMockToken(text: string): Generator<string> {
  let start = 0;
  let i = 0;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  if (i > 0) {
    yield text.slice(0, i);
    start = i;
  }
  while (start < text.length) {
    while (i < text.length && !isSpace(text.charCodeAt(i))) i++;
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
    yield text.slice(start, i);
    start = i;
  }
}

/** What `\\s` matches, by char code (ASCII, the common case, decided in two comparisons). */
export const isSpace = (c: number): boolean => (c < 128 ? c === 32 || (c >= 9 && c <= 13) : isWideSpace(c));

const isWideSpace = (c: number): boolean =>
  c === 160 ||
  c === 0x2028 ||
  c === 0x2029 ||
  c === 0xfeff ||
  (c >= 0x2000 && c <= 0x200a) ||
  c === 0x1680 ||
  c === 0x202f ||
  c === 0x205f ||
  c === 0x3000;

/** `mockTokens(text).length` without building the array: runs of non-space, plus leading space. */
export function countMockTokens(text: string): number {
  let n = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const space = isSpace(text.charCodeAt(i));
    if (i === 0 && space) n++;
    if (!space && !inWord) n++;
    inWord = !space;
  }
  return n;
}

/** The prompt as the mock "sees" it; its token count is `usage.input_tokens` and count_tokens. */
export function renderMockPrompt(req: MessageRequest): string {
  const parts: string[] = [];
  for (const t of req.tools) {
    parts.push(`tool ${t.name}`, "description" in t && t.description ? t.description : "");
    if ("input_schema" in t) parts.push(JSON.stringify(t.input_schema));
  }
  for (const b of req.system) parts.push(b.text);
  for (const turn of req.messages) {
    parts.push(`${turn.role}:`);
    for (const b of turn.content) parts.push(blockText(b));
  }
  return parts.filter(Boolean).join("\n");
}

function blockText(b: ContentBlockParam): string {
  switch (b.type) {
    case "text":
      return b.text;
    case "thinking":
      return b.thinking;
    case "tool_use":
    case "server_tool_use":
      return `${b.name} ${JSON.stringify(b.input)}`;
    case "tool_result":
      return toolResultText(b.content);
    case "document":
      return b.source.type === "text" ? b.source.data : "[document]";
    case "image":
      return "[image]";
    default:
      return `[${b.type}]`;
  }
}

export function toolResultText(content: string | { type: string; text?: string }[] | undefined): string {
  if (content === undefined) return "";
  if (typeof content === "string") return content;
  return content.map((c) => (c.type === "text" ? (c.text ?? "") : `[${c.type}]`)).join("\n");
}
