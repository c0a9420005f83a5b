import type { ContentBlockParam, Turn } from "../protocol/index.ts";

/**
 * The conversation as plain text for the summariser: every backend can read it, it can be cut
 * anywhere (a tool_use never needs its tool_result beside it), and its size is easy to split.
 */
export function transcript(turns: readonly Turn[]): string {
  return turns
    .map((t) => {
      const text = t.content
        .map(blockText)
        .filter((s) => s !== "")
        .join("\n");
      return text === "" ? "" : `${label[t.role]}: ${text}`;
    })
    .filter((s) => s !== "")
    .join("\n\n");
}

const label = { user: "User", assistant: "Assistant", system: "System" } as const;

function blockText(b: ContentBlockParam): string {
  switch (b.type) {
    case "text":
      return b.text;
    case "tool_use":
      return `[called tool ${b.name} with ${JSON.stringify(b.input)}]`;
    case "tool_result": {
      const body =
        typeof b.content === "string"
          ? b.content
          : (b.content ?? []).map((c) => (c.type === "text" ? c.text : `[${c.type}]`)).join("\n");
      return `[tool result${b.is_error ? " (error)" : ""}: ${body}]`;
    }
    case "thinking":
    case "redacted_thinking":
      return "";
    case "document":
      return b.source.type === "text" ? b.source.data : "[document]";
    default:
      return `[${b.type}]`;
  }
}

/** Cuts text into `parts` pieces of about equal length, at line breaks where there are any. */
export function splitText(text: string, parts: number): string[] {
  if (parts <= 1) return [text];
  const size = Math.ceil(text.length / parts);
  const out: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + size);
    if (end < text.length) {
      const nl = text.lastIndexOf("\n", end);
      if (nl > start + size / 2) end = nl + 1;
    }
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}
