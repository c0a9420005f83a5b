import { ApiError } from "./errors.ts";
import { eventsOrBatches, isBatch } from "./event-batches.ts";
import type { ContentBlock, ErrorType, Message, StreamEvent } from "./schema/index.ts";

const STATUS_BY_TYPE: Record<ErrorType, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

export const statusForErrorType = (type: ErrorType) => STATUS_BY_TYPE[type] ?? 500;

/**
 * Folds a stream of events into the Message a non-streaming client gets. Streaming and
 * non-streaming replies share this one path, so they cannot disagree. `observe` sees each event
 * first (usage counting) without another async generator around the stream.
 */
export async function foldStream(
  events: AsyncIterable<StreamEvent>,
  observe?: (event: StreamEvent) => void,
): Promise<Message> {
  const folder = new StreamFolder();
  const take = (event: StreamEvent) => {
    observe?.(event);
    folder.add(event);
  };
  for await (const item of eventsOrBatches(events)) {
    if (isBatch(item)) for (const event of item) take(event);
    else take(item);
  }
  return folder.result();
}

export class StreamFolder {
  private message: Message | undefined;
  private json: string[] = [];

  add(event: StreamEvent): void {
    switch (event.type) {
      case "message_start":
        this.message = { ...event.message, content: [], usage: { ...event.message.usage } };
        return;
      case "content_block_start":
        this.need().content[event.index] = { ...event.content_block };
        this.json[event.index] = "";
        return;
      case "content_block_delta":
        this.applyDelta(event);
        return;
      case "content_block_stop":
        this.finishBlock(event.index);
        return;
      case "message_delta": {
        const m = this.need();
        m.stop_reason = event.delta.stop_reason;
        m.stop_sequence = event.delta.stop_sequence;
        for (const [k, v] of Object.entries(event.usage)) {
          if (v !== null && v !== undefined) (m.usage as unknown as Record<string, unknown>)[k] = v;
        }
        if (event.context_management) m.context_management = event.context_management;
        return;
      }
      case "error":
        throw new ApiError(statusForErrorType(event.error.type), event.error.type, event.error.message);
      default:
        return;
    }
  }

  result(): Message {
    const m = this.need();
    if (m.stop_reason === null)
      throw new ApiError(500, "api_error", "The model stream ended before it finished");
    return m;
  }

  private need(): Message {
    if (!this.message)
      throw new ApiError(500, "api_error", "The model stream did not start with message_start");
    return this.message;
  }

  private applyDelta(event: Extract<StreamEvent, { type: "content_block_delta" }>): void {
    const block: ContentBlock | undefined = this.need().content[event.index];
    const d = event.delta;
    if (!block) return;
    if (d.type === "text_delta" && block.type === "text") block.text += d.text;
    else if (d.type === "thinking_delta" && block.type === "thinking") block.thinking += d.thinking;
    else if (d.type === "signature_delta" && block.type === "thinking") block.signature = d.signature;
    else if (d.type === "input_json_delta" && (block.type === "tool_use" || block.type === "mcp_tool_use"))
      this.json[event.index] += d.partial_json;
    else if (d.type === "citations_delta" && block.type === "text")
      block.citations = [...(block.citations ?? []), d.citation];
    else if (d.type === "compaction_delta" && block.type === "compaction") {
      // The delta carries the block's final value, as the SDK's accumulator expects.
      block.content = d.content;
      block.encrypted_content = d.encrypted_content;
    }
  }

  private finishBlock(index: number): void {
    const block = this.need().content[index];
    if ((block?.type !== "tool_use" && block?.type !== "mcp_tool_use") || !this.json[index]) return;
    try {
      block.input = JSON.parse(this.json[index]);
    } catch {
      block.input = {};
    }
  }
}
