import {
  ApiError,
  type ApiVersion,
  MessageStream,
  newToolUseId,
  type StopReason,
  StopSequenceMatcher,
  type StreamEvent,
  type ToolParam,
} from "../../protocol/index.ts";
import { ChunkParser } from "./chunk-parser.ts";
import { matchedStopSequence, promptUsageFrom, stopReasonFor } from "./finish.ts";
import { toAnthropicToolId } from "./tool-ids.ts";
import { checkToolInput } from "./tool-input.ts";
import type { OpenAIChunk, OpenAIDelta, OpenAIToolCallDelta, OpenAIUsage } from "./types.ts";

export interface ChunkTranslatorOptions {
  /** The model name the client asked for (echoed in `message_start`). */
  model: string;
  apiVersion: ApiVersion;
  /** All of the request's stop sequences; they are matched here as well as upstream. */
  stopSequences: string[];
  /** Input tokens to report if the upstream never sends usage. */
  estimatedInputTokens?: number;
  /** The request's tools: a tool call is checked against its `input_schema` before it is sent. */
  tools?: readonly ToolParam[];
}

interface ToolCallState {
  id: string;
  name: string;
  /** The argument text so far; fragments are assembled per call index, in any interleaving. */
  args: string;
}

/** A tool call whose arguments could not be made valid: sent as text instead, and logged. */
export interface RejectedToolCall {
  name: string;
  reason: string;
}

/** How much of a rejected call's raw arguments the explanatory text block quotes. */
const MAX_QUOTED_ARGUMENTS = 4000;

/** `text` parsed (by JSON.parse unless told otherwise); malformed text is the upstream's error. */
export function parseUpstreamJson<T>(text: string, parse: (text: string) => T = JSON.parse): T {
  try {
    return parse(text);
  } catch {
    throw new UpstreamStreamError("The upstream sent a malformed reply", text.slice(0, 200));
  }
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
 * The state machine from Chat Completions chunks to Anthropic stream events. Text and reasoning
 * go out as they arrive. Tool-call fragments are assembled per call index (upstreams may
 * interleave parallel calls) and each call goes out whole once the upstream finished: repaired
 * if its JSON is broken, checked against the tool's schema, and sent as a text block saying why
 * when it cannot be made valid, so a client never gets `tool_use` with broken input. The final
 * `message_delta` waits for the usage chunk that follows `finish_reason` (vLLM and OpenAI send it
 * separately, llama-server in the same chunk).
 */
export class OpenAIChunkTranslator {
  private readonly out: MessageStream;
  private readonly matcher: StopSequenceMatcher;
  private readonly options: ChunkTranslatorOptions;
  private readonly calls = new Map<number, ToolCallState>();
  private readonly chunks = new ChunkParser();
  private started = false;
  private sawChoice = false;
  private finishReason: string | null | undefined;
  private upstreamStop: unknown;
  private usage: OpenAIUsage | undefined;
  private fragments = 0;
  /** Set when a stop sequence matched here: the reply is over, the upstream can be cancelled. */
  stoppedBy: string | undefined;
  /** The upstream names matched stop strings in each choice's `stop_reason` (vLLM does). */
  reportsStopReason = false;
  /** Tool calls whose broken JSON was repaired. */
  repairedToolCalls = 0;
  readonly rejectedToolCalls: RejectedToolCall[] = [];

  constructor(options: ChunkTranslatorOptions) {
    this.options = options;
    this.out = new MessageStream(options.model, options.apiVersion);
    this.matcher = new StopSequenceMatcher(options.stopSequences);
  }

  get done(): boolean {
    return this.stoppedBy !== undefined;
  }

  /**
   * One `data:` payload of the stream (not `[DONE]`). A plain text chunk like the one before it
   * is read as its delta alone (see ChunkParser); anything else is parsed whole and pushed.
   */
  pushData(data: string): StreamEvent[] {
    const delta = this.chunks.delta(data);
    if (delta === undefined) return this.push(this.parse(data));
    // What push() does with a chunk that holds only this delta for choice 0. Its template came
    // from a chunk pushed before, so the message has started.
    this.sawChoice = true;
    return this.done ? [] : this.delta(delta);
  }

  private readonly parseChunk = (text: string): OpenAIChunk => this.chunks.parse(text);

  private parse(data: string): OpenAIChunk {
    return parseUpstreamJson(data, this.parseChunk);
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
    if (Array.isArray(chunk.choices)) this.sawChoice = true;
    const choice = chunk.choices?.find((c) => (c.index ?? 0) === 0);
    if (!choice || this.done) return events;
    if ("stop_reason" in choice) this.reportsStopReason = true;
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
    if (!this.sawChoice) {
      throw new UpstreamStreamError("The upstream sent a reply without choices", "no choices in the reply");
    }
    const events = this.start(undefined);
    if (!this.done) events.push(...this.out.text(this.matcher.flush()));
    const sentToolUse = this.flushToolCalls(events);
    let reason: StopReason = stopReasonFor(this.finishReason);
    if (reason === "tool_use" && !sentToolUse) reason = "end_turn";
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
    let call = this.calls.get(index);
    if (!call) {
      call = { id: "", name: "", args: "" };
      this.calls.set(index, call);
    }
    if (tc.id && call.id === "") call.id = tc.id;
    if (tc.function?.name) call.name += tc.function.name;
    const args = tc.function?.arguments ?? "";
    if (args) {
      this.fragments++;
      call.args += args;
    }
    return [];
  }

  /** Sends the assembled tool calls in index order; true when at least one became a tool_use block. */
  private flushToolCalls(events: StreamEvent[]): boolean {
    let sent = false;
    const calls = [...this.calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
    this.calls.clear();
    for (const call of calls) {
      const tools = this.options.tools;
      const tool = tools?.find((t) => t.name === call.name);
      const schema = tool && "input_schema" in tool ? tool.input_schema : undefined;
      const check =
        call.name === ""
          ? { ok: false as const, reason: "the call has no tool name" }
          : tools && !tool
            ? { ok: false as const, reason: `the request defines no tool named ${JSON.stringify(call.name)}` }
            : checkToolInput(call.args, schema);
      if (check.ok) {
        if (check.repaired) this.repairedToolCalls++;
        events.push(...this.out.toolUse(toAnthropicToolId(call.id || newToolUseId()), call.name));
        events.push(...this.out.inputJson(JSON.stringify(check.input)), ...this.out.closeBlock());
        sent = true;
        continue;
      }
      this.rejectedToolCalls.push({ name: call.name, reason: check.reason });
      events.push(...this.out.text(rejectedCallText(call, check.reason)), ...this.out.closeBlock());
    }
    return sent;
  }
}

/** What a client sees instead of a tool call that cannot be made valid. */
function rejectedCallText(call: ToolCallState, reason: string): string {
  const raw =
    call.args.length > MAX_QUOTED_ARGUMENTS ? `${call.args.slice(0, MAX_QUOTED_ARGUMENTS)}…` : call.args;
  return (
    `[Parley: the model called the tool ${JSON.stringify(call.name)} but ${reason}; ` +
    `the call was not passed on. Raw arguments: ${raw}]`
  );
}
