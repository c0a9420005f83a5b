import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import type { MockModelConfig } from "../../config/index.ts";
import {
  type MessageRequest,
  MessageStream,
  newToolUseId,
  StopSequenceMatcher,
  type StreamEvent,
  type ThinkingSigner,
  type ToolParam,
} from "../../protocol/index.ts";
import type { Provider, ProviderStatus, StreamOptions } from "../provider.ts";
import { exampleFor } from "./example-input.ts";
import { MockReplyIterator, type Step } from "./reply-iterator.ts";
import { type MockScript, readScript, type ScriptedTool, scriptedError } from "./script.ts";
import { countMockTokens, eachMockToken, renderMockPrompt } from "./tokens.ts";

/** Work one reply may do in a turn of the event loop before it lets others run. */
const TURN_BUDGET_MS = 2;

/** Tokens generated between two turns of the event loop, so a long reply never holds it. */
const TOKENS_PER_TURN = 64;

/** Splits JSON into token-like pieces: punctuation, strings, and bare literals. */
const jsonTokens = (json: string) => json.match(/"(?:[^"\\]|\\.)*"|[{}[\],:]|[^{}[\],:"\s]+/g) ?? [];

/**
 * The deterministic backend: echoes the last user turn, honours max_tokens, stop sequences,
 * forced tool choice and structured output, and follows `[[…]]` directives (see script.ts).
 */
export class MockProvider implements Provider {
  readonly kind = "mock";

  readonly config: MockModelConfig;
  private readonly signer: ThinkingSigner;

  constructor(config: MockModelConfig, signer: ThinkingSigner) {
    this.config = config;
    this.signer = signer;
  }

  status(): ProviderStatus {
    return { available: true };
  }

  async countTokens(req: MessageRequest): Promise<number> {
    return promptTokens(req);
  }

  stream(req: MessageRequest, { signal }: StreamOptions): AsyncIterable<StreamEvent> {
    return new MockReplyIterator(() => this.begin(req, signal));
  }

  /** Reads the prompt before the first event; the rest of the reply is built by plain generators. */
  private async begin(req: MessageRequest, signal: AbortSignal): Promise<Generator<Step, void>> {
    let turnStart = performance.now();
    // A huge prompt is read, counted and answered in separate turns of the event loop; an
    // ordinary one, done within the budget, pays no extra turn.
    // Not an async function: within the budget there is nothing to await, not even a resolved promise.
    const yieldIfLong = (): Promise<void> | undefined => {
      if (performance.now() - turnStart < TURN_BUDGET_MS) return undefined;
      return nextTurn().then(() => {
        turnStart = performance.now();
      });
    };
    const script = await readScript(req);
    if (script.errorStatus !== undefined) throw scriptedError(script.errorStatus);
    const out = new MessageStream(req.model, req.context.apiVersion);
    let pause = yieldIfLong();
    if (pause) await pause;
    const inputTokens = promptTokens(req);
    pause = yieldIfLong();
    if (pause) await pause;
    // Built before the first event, so a schema the mock cannot satisfy is a 400, not a stream error.
    const run = new Run(req, script, out, signal, this.signer);
    return run.events({
      input_tokens: inputTokens,
      cache_creation_input_tokens: cacheMarked(req) ? inputTokens : 0,
    });
  }
}

/** The prompt's size in mock tokens: `usage.input_tokens` and count_tokens. */
const promptTokens = (req: MessageRequest): number => countMockTokens(renderMockPrompt(req));

/** True when the client marked part of the prompt with `cache_control`. */
function cacheMarked(req: MessageRequest): boolean {
  if (req.params.cache_control) return true;
  const marked = (b: { cache_control?: unknown }) => Boolean(b.cache_control);
  return (
    req.system.some(marked) ||
    req.tools.some(marked) ||
    req.messages.some((t) => t.content.some((b) => marked(b as { cache_control?: unknown })))
  );
}

class Run {
  private used = 0;
  private readonly req: MessageRequest;
  private readonly script: MockScript;
  private readonly out: MessageStream;
  private readonly signal: AbortSignal;
  private readonly signer: ThinkingSigner;
  private readonly calls: { tool: ToolParam; input: Record<string, unknown> }[];
  private readonly reply: string;

  constructor(
    req: MessageRequest,
    script: MockScript,
    out: MessageStream,
    signal: AbortSignal,
    signer: ThinkingSigner,
  ) {
    this.signer = signer;
    this.req = req;
    this.script = script;
    this.out = out;
    this.signal = signal;
    this.calls = this.toolCalls();
    this.reply = this.replyText();
  }

  /** The whole reply, `message_start` (with these usage counts) first. */
  *events(usage: { input_tokens: number; cache_creation_input_tokens: number }): Generator<Step, void> {
    yield this.out.start(usage);
    const forced = this.req.tool_choice.type === "any" || this.req.tool_choice.type === "tool";
    if (this.req.thinking?.type === "enabled") {
      if (!(yield* this.thinking())) return yield* this.finish("max_tokens");
    }
    if (!forced) {
      const end = yield* this.text(this.reply);
      if (end) return yield* this.finish(end.reason, end.sequence);
      if (this.script.streamError) {
        yield {
          type: "error",
          error: { type: "overloaded_error", message: "Overloaded (requested by [[stream-error]])" },
        };
        return;
      }
    }
    for (const call of this.calls) {
      if (!(yield* this.toolUse(call))) return yield* this.finish("max_tokens");
    }
    yield* this.finish("end_turn");
  }

  private replyText(): string {
    if (this.req.output_schema)
      return JSON.stringify(exampleFor(this.req.output_schema, this.script.text, "output_format.schema"));
    if (this.script.text === "" && this.calls.length === 0) return "(empty)";
    return this.script.text;
  }

  private toolCalls(): { tool: ToolParam; input: Record<string, unknown> }[] {
    const choice = this.req.tool_choice;
    if (choice.type === "none") return [];
    const byName = new Map(this.req.tools.map((t) => [t.name, t]));
    let calls: ScriptedTool[] = this.script.tools.filter((c) => byName.has(c.name));
    if (choice.type === "tool") calls = [calls.find((c) => c.name === choice.name) ?? { name: choice.name }];
    if (choice.type === "any" && calls.length === 0) calls = [{ name: this.req.tools[0].name }];
    if (choice.disable_parallel_tool_use) calls = calls.slice(0, 1);
    return calls.map((c) => {
      const tool = byName.get(c.name) as ToolParam;
      const schema = "input_schema" in tool ? tool.input_schema : { type: "object" };
      const label = `tools[${this.req.tools.indexOf(tool)}].input_schema`;
      return {
        tool,
        input: c.input ?? (exampleFor(schema, this.script.text, label) as Record<string, unknown>),
      };
    });
  }

  /** Spends one output token; false when max_tokens is used up. */
  private spend(): boolean {
    if (this.used >= this.req.max_tokens) return false;
    this.used++;
    this.out.setOutputTokens(this.used);
    return true;
  }

  /**
   * Waits out `[[delay]]` if any, then stops if the client left. Without a delay it awaits
   * nothing, except a turn of the event loop every TOKENS_PER_TURN tokens.
   */
  private pace(): Promise<void> | undefined {
    if (this.script.delayMs > 0) return sleep(this.script.delayMs, undefined, { signal: this.signal });
    this.signal.throwIfAborted();
    if (this.used % TOKENS_PER_TURN === 0) return new Promise((r) => setImmediate(r));
    return undefined;
  }

  private *thinking(): Generator<Step, boolean> {
    const text = `The user wrote ${countMockTokens(this.script.text)} words; I will echo them back.`;
    let sent = "";
    for (const piece of eachMockToken(text)) {
      if (!this.spend()) return false;
      const wait = this.pace();
      if (wait) yield wait;
      sent += piece;
      yield* this.out.thinking(piece);
    }
    yield* this.out.signature(this.signer.sign(sent));
    return true;
  }

  private *text(
    text: string,
  ): Generator<Step, { reason: "max_tokens" | "stop_sequence"; sequence?: string } | undefined> {
    const stops = new StopSequenceMatcher(this.req.stop_sequences);
    const out = new TextDeltas(this.out, !this.req.stream);
    for (const piece of eachMockToken(text)) {
      if (!this.spend()) {
        yield* out.send(stops.flush());
        yield* out.end();
        return { reason: "max_tokens" };
      }
      // pace() notices a client that left: what was made before goes out first, to be counted.
      if (this.signal.aborted) yield* out.release();
      const wait = this.pace();
      if (wait) {
        yield* out.release();
        yield wait;
      }
      const { emit, stopped } = stops.push(piece);
      yield* out.send(emit);
      if (stopped) {
        yield* out.end();
        return { reason: "stop_sequence", sequence: stopped };
      }
    }
    yield* out.send(stops.flush());
    yield* out.end();
    yield* this.out.closeBlock();
    return undefined;
  }

  private *toolUse(call: { tool: ToolParam; input: Record<string, unknown> }): Generator<Step, boolean> {
    yield* this.out.toolUse(newToolUseId(), call.tool.name);
    yield* this.out.inputJson("");
    const pieces = jsonTokens(JSON.stringify(call.input));
    for (let i = 0; i < pieces.length; i += 4) {
      const chunk = pieces.slice(i, i + 4);
      let sent = "";
      for (const p of chunk) {
        if (!this.spend()) {
          if (sent) yield* this.out.inputJson(sent);
          return false;
        }
        sent += p;
      }
      const wait = this.pace();
      if (wait) yield wait;
      yield* this.out.inputJson(sent);
    }
    yield* this.out.closeBlock();
    return true;
  }

  private *finish(reason: "end_turn" | "max_tokens" | "stop_sequence", sequence?: string): Generator<Step> {
    yield* this.out.finish(reason, sequence ?? null);
  }
}

/**
 * The text deltas of a reply. A streamed reply sends a delta per token as it comes. One that is
 * not streamed is only folded, never read delta by delta, so its text goes out as one delta, as
 * a real backend's non-streamed reply does (about 14 fewer events for a short reply, which the
 * fold and the usage tally would each have handled). Before a wait, where the client may leave,
 * and once it has left, the held tokens go out a delta each, so a reply cut short is counted token
 * by token as a streamed one is (`UsageTally` counts a delta as a token).
 */
class TextDeltas {
  private held: string[] = [];
  private readonly out: MessageStream;
  private readonly whole: boolean;

  constructor(out: MessageStream, whole: boolean) {
    this.out = out;
    this.whole = whole;
  }

  /** The deltas to send now for this piece of text: its own when streamed, none when held. */
  send(piece: string): readonly StreamEvent[] {
    if (!this.whole) return this.out.text(piece);
    if (piece !== "") this.held.push(piece);
    return NONE;
  }

  /** Before a wait, or once the client has left: the held tokens, a delta each. */
  release(): readonly StreamEvent[] {
    if (this.held.length === 0) return NONE;
    const events = this.held.flatMap((p) => this.out.text(p));
    this.held = [];
    return events;
  }

  /** At the end of the text: the held tokens as one delta. */
  end(): readonly StreamEvent[] {
    if (this.held.length === 0) return NONE;
    const text = this.held.join("");
    this.held = [];
    return this.out.text(text);
  }
}

const NONE: readonly StreamEvent[] = Object.freeze([]);
