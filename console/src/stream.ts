import { createParser } from "eventsource-parser";
import { errorFrom } from "./api.ts";

/** A reply's content as it streams in. */
export type Block =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string }
  | { type: "tool_use"; id: string; name: string; input: unknown; partial_json: string }
  | { type: "other"; raw: unknown };

export interface Reply {
  id?: string;
  requestId: string | null;
  blocks: Block[];
  usage: Record<string, number>;
  stopReason: string | null;
  error?: { type: string; message: string };
}

type StreamEvent = { type: string; [k: string]: unknown };

/** Applies one stream event to the reply (a new object, so the view re-renders). */
export function applyEvent(reply: Reply, event: StreamEvent): Reply {
  const blocks = [...reply.blocks];
  const index = event.index as number;
  switch (event.type) {
    case "message_start": {
      const m = event.message as { id: string; usage: Record<string, number> };
      return { ...reply, id: m.id, usage: { ...m.usage } };
    }
    case "content_block_start": {
      const b = event.content_block as { type: string; [k: string]: unknown };
      if (b.type === "text") blocks[index] = { type: "text", text: String(b.text ?? "") };
      else if (b.type === "thinking")
        blocks[index] = { type: "thinking", thinking: String(b.thinking ?? "") };
      else if (b.type === "tool_use")
        blocks[index] = {
          type: "tool_use",
          id: String(b.id),
          name: String(b.name),
          input: b.input,
          partial_json: "",
        };
      else blocks[index] = { type: "other", raw: b };
      return { ...reply, blocks };
    }
    case "content_block_delta": {
      const d = event.delta as { type: string; text?: string; thinking?: string; partial_json?: string };
      const b = blocks[index];
      if (d.type === "text_delta" && b?.type === "text") blocks[index] = { ...b, text: b.text + d.text };
      else if (d.type === "thinking_delta" && b?.type === "thinking")
        blocks[index] = { ...b, thinking: b.thinking + d.thinking };
      else if (d.type === "input_json_delta" && b?.type === "tool_use")
        blocks[index] = { ...b, partial_json: b.partial_json + d.partial_json };
      return { ...reply, blocks };
    }
    case "content_block_stop": {
      const b = blocks[index];
      if (b?.type === "tool_use" && b.partial_json) {
        try {
          blocks[index] = { ...b, input: JSON.parse(b.partial_json) };
        } catch {
          // Left as the raw text the upstream sent.
        }
      }
      return { ...reply, blocks };
    }
    case "message_delta": {
      const d = event.delta as { stop_reason?: string };
      const usage = (event.usage ?? {}) as Record<string, number>;
      return { ...reply, stopReason: d.stop_reason ?? null, usage: { ...reply.usage, ...usage } };
    }
    case "error":
      return { ...reply, error: event.error as { type: string; message: string } };
    default:
      return reply;
  }
}

/** POSTs a streaming Messages request and reports the reply after every event. */
export async function streamMessage(
  body: object,
  apiKey: string,
  signal: AbortSignal,
  onReply: (r: Reply) => void,
): Promise<Reply> {
  const res = await fetch("/v1/messages", {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": apiKey, "anthropic-version": "2023-06-01" },
    body: JSON.stringify({ ...body, stream: true }),
    signal,
  });
  if (!res.ok || !res.body) throw await errorFrom(res);
  let reply: Reply = { requestId: res.headers.get("request-id"), blocks: [], usage: {}, stopReason: null };
  onReply(reply);
  const parser = createParser({
    onEvent: (e) => {
      reply = applyEvent(reply, JSON.parse(e.data) as StreamEvent);
      onReply(reply);
    },
  });
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  return reply;
}

/** The reply as an assistant turn to send back. */
export function replyContent(reply: Reply): object[] {
  return reply.blocks.flatMap((b): object[] => {
    if (b.type === "text") return [{ type: "text", text: b.text }];
    if (b.type === "tool_use") return [{ type: "tool_use", id: b.id, name: b.name, input: b.input }];
    return [];
  });
}
