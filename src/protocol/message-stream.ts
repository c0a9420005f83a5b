import { newMessageId } from "./ids.ts";
import type { ApiVersion } from "./request.ts";
import type { ContentBlock, Message, StopReason, StreamEvent, Usage } from "./schema/index.ts";

export interface PromptUsage {
  input_tokens: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

type OpenBlock = "text" | "thinking" | "tool_use";

/**
 * Builds a well-formed Anthropic event sequence for providers that generate content
 * themselves (mock, llama, translated upstreams). It owns the invariants clients rely on:
 * indexes in order, no empty leading text block, every opened block closed, and
 * `stop_reason: "tool_use"` whenever a tool_use block was sent.
 */
export class MessageStream {
  readonly id = newMessageId();
  private index = -1;
  private open: OpenBlock | undefined;
  private sawToolUse = false;
  private outputTokens = 0;
  private readonly model: string;
  private readonly apiVersion: ApiVersion;

  constructor(model: string, apiVersion: ApiVersion) {
    this.model = model;
    this.apiVersion = apiVersion;
  }

  start(usage: PromptUsage): StreamEvent {
    return { type: "message_start", message: emptyMessage(this.id, this.model, this.apiVersion, usage) };
  }

  /** Text; an empty string opens nothing. */
  text(text: string): StreamEvent[] {
    if (text === "") return [];
    const events = this.ensure("text", { type: "text", text: "", citations: null });
    events.push({ type: "content_block_delta", index: this.index, delta: { type: "text_delta", text } });
    return events;
  }

  thinking(thinking: string): StreamEvent[] {
    const events = this.ensure("thinking", { type: "thinking", thinking: "", signature: "" });
    if (thinking !== "") {
      events.push({
        type: "content_block_delta",
        index: this.index,
        delta: { type: "thinking_delta", thinking },
      });
    }
    return events;
  }

  /** Ends the open thinking block with its signature. */
  signature(signature: string): StreamEvent[] {
    if (this.open !== "thinking") return [];
    return [
      { type: "content_block_delta", index: this.index, delta: { type: "signature_delta", signature } },
      ...this.closeBlock(),
    ];
  }

  toolUse(id: string, name: string): StreamEvent[] {
    const events = this.closeBlock();
    this.index++;
    this.open = "tool_use";
    this.sawToolUse = true;
    events.push({
      type: "content_block_start",
      index: this.index,
      content_block: { type: "tool_use", id, name, input: {} },
    });
    return events;
  }

  inputJson(partial_json: string): StreamEvent[] {
    if (this.open !== "tool_use") throw new Error("inputJson outside a tool_use block");
    return [
      { type: "content_block_delta", index: this.index, delta: { type: "input_json_delta", partial_json } },
    ];
  }

  closeBlock(): StreamEvent[] {
    if (this.open === undefined) return [];
    this.open = undefined;
    return [{ type: "content_block_stop", index: this.index }];
  }

  /** Output tokens so far; providers that count tokens report them here. */
  setOutputTokens(n: number): void {
    this.outputTokens = n;
  }

  get blockCount(): number {
    return this.index + 1;
  }

  finish(
    stopReason: StopReason,
    stopSequence: string | null = null,
    usage: Partial<PromptUsage> = {},
  ): StreamEvent[] {
    const reason = this.sawToolUse && stopReason === "end_turn" ? "tool_use" : stopReason;
    return [
      ...this.closeBlock(),
      {
        type: "message_delta",
        delta: { stop_reason: reason, stop_sequence: reason === "stop_sequence" ? stopSequence : null },
        usage: { output_tokens: this.outputTokens, ...usage },
      },
      { type: "message_stop" },
    ];
  }

  private ensure(kind: OpenBlock, block: ContentBlock): StreamEvent[] {
    if (this.open === kind && kind !== "tool_use") return [];
    const events = this.closeBlock();
    this.index++;
    this.open = kind;
    events.push({ type: "content_block_start", index: this.index, content_block: block });
    return events;
  }
}

export function emptyUsage(apiVersion: ApiVersion, prompt: PromptUsage): Usage {
  const usage: Usage = {
    input_tokens: prompt.input_tokens,
    output_tokens: 0,
    cache_creation_input_tokens: prompt.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: prompt.cache_read_input_tokens ?? 0,
    cache_creation: {
      ephemeral_5m_input_tokens: prompt.cache_creation_input_tokens ?? 0,
      ephemeral_1h_input_tokens: 0,
    },
    server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
    service_tier: "standard",
    inference_geo: null,
    output_tokens_details: null,
  };
  if (apiVersion === "2026-10-21") usage.speed = "standard";
  return usage;
}

/** The `message_start` snapshot: the full Message shape of the client's API version, no content yet. */
export function emptyMessage(
  id: string,
  model: string,
  apiVersion: ApiVersion,
  prompt: PromptUsage,
): Message {
  const message: Message = {
    id,
    type: "message",
    role: "assistant",
    model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: emptyUsage(apiVersion, prompt),
  };
  if (apiVersion === "2026-10-21")
    Object.assign(message, { container: null, diagnostics: null, stop_details: null });
  return message;
}
