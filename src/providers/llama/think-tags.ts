export interface ThinkPiece {
  kind: "thinking" | "text";
  text: string;
}

const OPEN = "<think>";
const CLOSE = "</think>";

type Phase = "start" | "thinking" | "after-thinking" | "text";

/**
 * Splits streamed model text into thinking and answer text by a leading `<think>…</think>`,
 * for models whose chat wrapper does not report thought segments itself. Text that could
 * still be part of a tag is held back until it cannot be; whitespace around the tags is dropped.
 */
export class ThinkTagSplitter {
  private phase: Phase;
  private held = "";

  /** `startInside`: the prompt already opened the `<think>` (templates that prefill it). */
  constructor(startInside = false) {
    this.phase = startInside ? "thinking" : "start";
  }

  push(text: string): ThinkPiece[] {
    const out: ThinkPiece[] = [];
    let buf = this.held + text;
    this.held = "";
    while (buf !== "") {
      if (this.phase === "start") {
        const trimmed = buf.trimStart();
        if (trimmed.startsWith(OPEN)) {
          this.phase = "thinking";
          buf = trimmed.slice(OPEN.length).replace(/^\s+/, "");
          continue;
        }
        if (OPEN.startsWith(trimmed)) {
          this.held = buf;
          break;
        }
        this.phase = "text";
      }
      if (this.phase === "thinking") {
        const at = buf.indexOf(CLOSE);
        if (at >= 0) {
          push(out, "thinking", buf.slice(0, at).replace(/\s+$/, ""));
          this.phase = "after-thinking";
          buf = buf.slice(at + CLOSE.length);
          continue;
        }
        // Hold a possible partial tag and the whitespace before it (dropped if the tag follows).
        let end = buf.length - partialSuffix(buf, CLOSE);
        while (end > 0 && /\s/.test(buf[end - 1] as string)) end--;
        push(out, "thinking", buf.slice(0, end));
        this.held = buf.slice(end);
        break;
      }
      if (this.phase === "after-thinking") {
        buf = buf.replace(/^\s+/, "");
        if (buf === "") break;
        this.phase = "text";
      }
      push(out, "text", buf);
      break;
    }
    return out;
  }

  /** What is still held back, at the end of generation. */
  flush(): ThinkPiece[] {
    const out: ThinkPiece[] = [];
    const rest = this.held;
    this.held = "";
    if (this.phase === "thinking") push(out, "thinking", rest.trimEnd());
    else if (rest.trim() !== "") push(out, "text", rest);
    return out;
  }
}

function push(out: ThinkPiece[], kind: ThinkPiece["kind"], text: string): void {
  if (text !== "") out.push({ kind, text });
}

function partialSuffix(buf: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, buf.length); n > 0; n--) {
    if (buf.endsWith(tag.slice(0, n))) return n;
  }
  return 0;
}
