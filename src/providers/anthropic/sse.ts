import { createParser, type EventSourceMessage } from "eventsource-parser";
import { templateDeltaLength } from "../../protocol/index.ts";

export interface RelayUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number;
  cut_short?: boolean;
}

/** Relayed deltas carry a few tokens each; about four characters a token, one at least. */
const tokensOf = (length: number) => Math.max(1, Math.ceil(length / 4));

/**
 * Reads an Anthropic SSE byte stream on the side: whole frames out, byte-for-byte, and the
 * usage and completion it reports. Frames are released only when complete, so an error frame
 * appended after a broken upstream never lands inside a half-sent one.
 */
export class SseFrameReader {
  usage: RelayUsage | undefined;
  sawStop = false;
  /** Output tokens estimated from the content deltas relayed so far. */
  private generated = 0;
  private sawFinalUsage = false;
  private pending: Buffer = Buffer.alloc(0);
  private readonly parser = createParser({ onEvent: (e) => this.observe(e) });
  private readonly decoder = new TextDecoder();

  /** The complete frames in `chunk` plus what was held back; the rest waits for the next chunk. */
  push(chunk: Uint8Array): Buffer | undefined {
    this.parser.feed(this.decoder.decode(chunk, { stream: true }));
    // A view of the chunk, not a copy: the bytes go out as they came unless a frame spans two chunks.
    const all = this.pending.length
      ? Buffer.concat([this.pending, chunk])
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const end = frameEnd(all);
    this.pending = all.subarray(end);
    return end > 0 ? all.subarray(0, end) : undefined;
  }

  /**
   * The usage to record once the relay is over: the upstream's own figures, or when the reply
   * ended before its final `message_delta`, the output estimated from what was relayed.
   */
  settledUsage(clientLeft: boolean): RelayUsage | undefined {
    if (this.sawFinalUsage && !clientLeft) return this.usage;
    const u: RelayUsage = { ...(this.usage ?? { input_tokens: 0, output_tokens: 0 }) };
    if (!this.sawFinalUsage) u.output_tokens = Math.max(u.output_tokens, this.generated);
    if (clientLeft && !this.sawStop) u.cut_short = true;
    return u;
  }

  private observe(e: EventSourceMessage): void {
    if (e.event === "content_block_delta") {
      this.generated += deltaTokens(e.data);
      return;
    }
    if (e.event !== "message_start" && e.event !== "message_delta" && e.event !== "message_stop") return;
    if (e.event === "message_stop") {
      this.sawStop = true;
      return;
    }
    try {
      const data = JSON.parse(e.data) as { message?: { usage?: object }; usage?: object };
      const u = (e.event === "message_start" ? data.message?.usage : data.usage) as
        | Record<string, unknown>
        | undefined;
      if (!u) return;
      if (e.event === "message_delta") this.sawFinalUsage = true;
      const next: RelayUsage = this.usage ?? { input_tokens: 0, output_tokens: 0 };
      for (const k of ["input_tokens", "output_tokens", "cache_read_input_tokens"] as const) {
        if (typeof u[k] === "number") next[k] = u[k] as number;
      }
      this.usage = next;
    } catch {
      // a malformed frame is relayed as is; it just carries no usage
    }
  }
}

/** Index just past the last blank line (`\n\n` or `\r\n\r\n`) in `buf`, or 0. */
function frameEnd(buf: Buffer): number {
  const lf = buf.lastIndexOf("\n\n");
  const crlf = buf.lastIndexOf("\r\n\r\n");
  return Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 4);
}

function deltaTokens(data: string): number {
  const length = templateDeltaLength(data);
  if (length !== undefined) return length < 0 ? 0 : tokensOf(length);
  try {
    const d = (JSON.parse(data) as { delta?: Record<string, unknown> }).delta ?? {};
    const text = d.text ?? d.thinking ?? d.partial_json;
    return typeof text === "string" ? tokensOf(text.length) : 0;
  } catch {
    return 0;
  }
}
