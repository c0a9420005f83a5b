import {
  ApiError,
  type ApiVersion,
  MessageStream,
  newToolUseId,
  type StopReason,
  StopSequenceMatcher,
  type StreamEvent,
} from "../../protocol/index.ts";
import { matchedStopSequence, promptUsageFrom, stopReasonFor } from "./finish.ts";
import type { OpenAIChunk, OpenAIDelta, OpenAIToolCallDelta, OpenAIUsage } from "./types.ts";

export interface ChunkTranslatorOptions {
  /** The model name the client asked for (echoed in `message_start`). */
  model: string;
  apiVersion: ApiVersion;
  /** All of the request's stop sequences; they are matched here as well as upstream. */
  stopSequences: string[];
  /** Input tokens to report if the upstream never sends usage. */
  estimatedInputTokens?: number;
}

interface ToolCallState {
  id: string;
  name: string;
  /** Argument text that arrived before the call's name. */
  pending: string;
  state: "waiting" | "open" | "closed";
}

/** Thrown when an upstream stream is broken; `detail` is for logs only. */
export class UpstreamStreamError extends ApiError {
  readonly detail: string;
  constructor(message: string, detail: string) {
    super(500, "api_error", message);
    this.detail = detail;
  }
}

/**
 * The state machine from Chat Completions chunks to Anthropic stream events. Text, reasoning
 * and tool-call argument fragments go out as they arrive; each tool call opens its own
 * tool_use block; the final `message_delta` waits for the usage chunk that follows
 * `finish_reason` (vLLM and OpenAI send it separately, llama-server in the same chunk).
 */
export class OpenAIChunkTranslator {
  private readonly out: MessageStream;
  private readonly matcher: StopSequenceMatcher;
  private readonly options: ChunkTranslatorOptions;
  private readonly calls = new Map<number, ToolCallState>();
  private openCall: number | undefined;
  private started = false;
  private finishReason: string | null | undefined;
  private upstreamStop: unknown;
  private usage: OpenAIUsage | undefined;
  private fragments = 0;
  /** Set when a stop sequence matched here: the reply is over, the upstream can be cancelled. */
  stoppedBy: string | undefined;

  constructor(options: ChunkTranslatorOptions) {
    this.options = options;
    this.out = new MessageStream(options.model, options.apiVersion);
    this.matcher = new StopSequenceMatcher(options.stopSequences);
  }

  get done(): boolean {
    return this.stoppedBy !== undefined;
  }

  push(chunk: OpenAIChunk): StreamEvent[] {
    if (chunk.error !== undefined || chunk.object === "error") {
      throw new UpstreamStreamError(
        "The upstream failed while replying",
        JSON.stringify(chunk.error ?? chunk),
      );
    }
    const events = this.start(chunk.usage ?? undefined);
    if (chunk.usage) this.usage = chunk.usage;
    const choice = chunk.choices?.find((c) => (c.index ?? 0) === 0);
    if (!choice || this.done) return events;
    if (choice.delta) events.push(...this.delta(choice.delta));
    if (choice.finish_reason) {
      this.finishReason = choice.finish_reason;
      this.upstreamStop = choice.stop_reason;
    }
    return events;
  }

  /**
   * The closing events. `sawDone`: the stream ended with `[DONE]`; a stream that just stops
   * without a finish reason or `[DONE]` died, and that is an error, not an end_turn.
   */
  end(sawDone: boolean): StreamEvent[] {
    if (!this.done && this.finishReason === undefined && !sawDone) {
      throw new UpstreamStreamError(
        "The upstream ended the reply early",
        "stream ended without finish_reason",
      );
    }
    const events = this.start(undefined);
    if (!this.done) events.push(...this.out.text(this.matcher.flush()));
    let reason: StopReason = stopReasonFor(this.finishReason);
    let sequence = this.stoppedBy ?? null;
    if (sequence !== null) reason = "stop_sequence";
    else if (this.finishReason === "stop") {
      sequence = matchedStopSequence(this.upstreamStop, this.options.stopSequences) ?? null;
      if (sequence !== null) reason = "stop_sequence";
    }
    if (this.usage) {
      this.out.setOutputTokens(this.usage.completion_tokens ?? 0);
      events.push(...this.out.finish(reason, sequence, promptUsageFrom(this.usage)));
    } else {
      this.out.setOutputTokens(this.fragments);
      events.push(...this.out.finish(reason, sequence));
    }
    return events;
  }

  private start(usage: OpenAIUsage | undefined): StreamEvent[] {
    if (this.started) return [];
    this.started = true;
    const prompt = usage ? promptUsageFrom(usage) : { input_tokens: this.options.estimatedInputTokens ?? 0 };
    return [this.out.start(prompt)];
  }

  private delta(d: OpenAIDelta): StreamEvent[] {
    const events: StreamEvent[] = [];
    const reasoning = d.reasoning_content ?? d.reasoning;
    if (reasoning || d.content) this.closeOpenCall();
    if (reasoning) {
      this.fragments++;
      events.push(...this.out.thinking(reasoning));
    }
    if (d.content) {
      this.fragments++;
      const r = this.matcher.push(d.content);
      events.push(...this.out.text(r.emit));
      if (r.stopped !== undefined) {
        this.stoppedBy = r.stopped;
        return events;
      }
    }
    for (const [i, tc] of (d.tool_calls ?? []).entries()) events.push(...this.toolCall(tc, i));
    return events;
  }

  private toolCall(tc: OpenAIToolCallDelta, position: number): StreamEvent[] {
    const index = tc.index ?? position;
    const events = this.calls.size === 0 ? this.out.text(this.matcher.flush()) : [];
    let call = this.calls.get(index);
    if (!call) {
      call = { id: tc.id || newToolUseId(), name: "", pending: "", state: "waiting" };
      this.calls.set(index, call);
    }
    if (tc.function?.name && call.state === "waiting") call.name += tc.function.name;
    const args = tc.function?.arguments ?? "";
    if (args) this.fragments++;
    if (call.state === "closed") {
      throw new UpstreamStreamError(
        "The upstream interleaved the arguments of parallel tool calls",
        `fragment for closed tool call ${index}`,
      );
    }
    if (call.state === "waiting") {
      call.pending += args;
      if (call.name === "") return events;
      this.closeOpenCall();
      events.push(...this.out.toolUse(call.id, call.name));
      call.state = "open";
      this.openCall = index;
      if (call.pending) events.push(...this.out.inputJson(call.pending));
      return events;
    }
    if (args) events.push(...this.out.inputJson(args));
    return events;
  }

  private closeOpenCall(): void {
    if (this.openCall === undefined) return;
    const previous = this.calls.get(this.openCall);
    if (previous) previous.state = "closed";
    this.openCall = undefined;
  }
}
