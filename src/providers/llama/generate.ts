import {
  LlamaChat,
  type LlamaChatResponse,
  type LlamaGrammar,
  LlamaJsonSchemaValidationError,
} from "node-llama-cpp";
import {
  ApiError,
  type MessageRequest,
  MessageStream,
  newToolUseId,
  type PromptUsage,
  type StopReason,
  StopSequenceMatcher,
  type StreamEvent,
  type ThinkingSigner,
  wantsThinking,
} from "../../protocol/index.ts";
import { EventQueue } from "./event-queue.ts";
import type { Prompt } from "./prompt.ts";
import type { Lease } from "./slot-pool.ts";
import { type ThinkPiece, ThinkTagSplitter } from "./think-tags.ts";

type Piece = ThinkPiece | { kind: "call"; index: number; name: string; json: string };

export interface RunInput {
  req: MessageRequest;
  prompt: Prompt;
  lease: Lease;
  usage: PromptUsage;
  maxTokens: number;
  temperature: number;
  grammar?: LlamaGrammar;
  signer: ThinkingSigner;
  signal: AbortSignal;
}

/**
 * One reply: runs LlamaChat on the leased slot and turns its callbacks (text, thought
 * segments, function-call parameter chunks) into Anthropic stream events as they arrive.
 */
export async function* runGeneration(input: RunInput): AsyncGenerator<StreamEvent> {
  const { req, lease } = input;
  const out = new MessageStream(req.model, req.context.apiVersion);
  const run = new ReplyBuilder(out, req, input.signer);
  // One controller that the caller's signal also aborts, not `AbortSignal.any`: node-llama-cpp
  // reads `aborted` several times a token, and a composite signal walks its sources on each read.
  const stop = new AbortController();
  const onAbort = () => stop.abort(input.signal.reason);
  if (input.signal.aborted) onAbort();
  else input.signal.addEventListener("abort", onAbort, { once: true });
  const queue = new EventQueue<Piece>();
  const meter = lease.slot.sequence.tokenMeter;
  const outputBefore = meter.usedOutputTokens;
  const done = generate(input, queue, stop.signal).then(
    (res) => {
      queue.end();
      return res;
    },
    (err) => {
      queue.end(err);
      throw err;
    },
  );
  done.catch(() => undefined); // handled where awaited; never an unhandled rejection
  let finished = false;
  try {
    yield out.start(input.usage);
    try {
      for await (const piece of queue) {
        yield* run.take(piece);
        if (run.stoppedBy !== undefined) stop.abort();
      }
    } catch (err) {
      if (run.stoppedBy === undefined) throw err;
    }
    const res = run.stoppedBy === undefined ? await done : undefined;
    input.signal.throwIfAborted();
    yield* run.flush();
    out.setOutputTokens(meter.usedOutputTokens - outputBefore);
    yield* out.finish(run.stopReason(res), run.stoppedBy ?? null);
    finished = true;
  } finally {
    if (!finished) {
      // The consumer left early (client gone) or failed: stop generating before the slot is reused.
      stop.abort();
      await done.catch(() => undefined);
    }
    input.signal.removeEventListener("abort", onAbort);
  }
}

/**
 * What a failed generation is sent as. node-llama-cpp rejects a tool call that does not parse or
 * fit the tool's schema, with a LlamaFunctionCallValidationError (not exported, so recognised by
 * its fields) or, when it checks the parsed arguments, a LlamaJsonSchemaValidationError. The
 * grammar makes that rare but not impossible: a string the grammar let through as 12 characters
 * can decode to 15 when the model emitted bytes that are not valid UTF-8 (seen with the random
 * test model: about 4 forced calls in 100 at temperature 1). It is the model's output, not a bug,
 * so the client gets an api_error that says so instead of "Internal server error", and the log
 * gets no stack. Anything else passes as is.
 */
export function generationFailure(err: unknown, model: string): unknown {
  if (!(err instanceof Error) || err instanceof ApiError) return err;
  const e = err as Error & { callText?: unknown; functions?: unknown };
  const invalidCall = typeof e.callText === "string" && typeof e.functions === "object";
  if (!invalidCall && !(err instanceof LlamaJsonSchemaValidationError)) return err;
  return new ApiError(
    500,
    "api_error",
    `Model ${model} generated a tool call that is not valid for its tools (${e.message})`,
  );
}

function generate(
  input: RunInput,
  queue: EventQueue<Piece>,
  signal: AbortSignal,
): Promise<LlamaChatResponse> {
  const { req, prompt } = input;
  const thinkingBudget = req.thinking?.type === "enabled" ? req.thinking.budget_tokens : undefined;
  const common = {
    signal,
    stopOnAbortSignal: true,
    maxTokens: input.maxTokens,
    temperature: req.temperature ?? input.temperature,
    topP: req.top_p,
    topK: req.top_k,
    repeatPenalty: false as const,
    budgets: { thoughtTokens: wantsThinking(req) ? (thinkingBudget ?? Number.POSITIVE_INFINITY) : 0 },
    onResponseChunk: (chunk: { type?: "segment"; segmentType?: string; text: string }) => {
      if (chunk.text === "") return;
      if (chunk.type === "segment") {
        if (chunk.segmentType === "thought") queue.push({ kind: "thinking", text: chunk.text });
      } else queue.push({ kind: "text", text: chunk.text });
    },
  };
  // A chat per reply: the wrapper differs per request (forced tool calls); the sequence keeps the cache.
  const chat = new LlamaChat({ contextSequence: input.lease.slot.sequence, chatWrapper: prompt.chatWrapper });
  const reply = prompt.functions
    ? (chat.generateResponse(prompt.history, {
        ...common,
        functions: prompt.functions,
        maxParallelFunctionCalls: disableParallel(req) ? 1 : undefined,
        onFunctionCallParamsChunk: (c) =>
          queue.push({ kind: "call", index: c.callIndex, name: c.functionName, json: c.paramsChunk }),
      }) as Promise<LlamaChatResponse>)
    : chat.generateResponse(prompt.history, { ...common, grammar: input.grammar });
  return reply.finally(() => chat.dispose({ disposeSequence: false }));
}

function disableParallel(req: MessageRequest): boolean {
  const c = req.tool_choice;
  return c.type !== "none" && c.disable_parallel_tool_use === true;
}

/** Keeps the reply's block structure: thinking (signed), text (stop sequences applied), tool calls. */
class ReplyBuilder {
  stoppedBy: string | undefined;
  private readonly out: MessageStream;
  private readonly stops: StopSequenceMatcher;
  private readonly tags = new ThinkTagSplitter();
  private readonly signer: ThinkingSigner;
  private readonly showThinking: boolean;
  private thinkingText: string | undefined;
  private callIndex = -1;
  private calls = 0;

  constructor(out: MessageStream, req: MessageRequest, signer: ThinkingSigner) {
    this.out = out;
    this.stops = new StopSequenceMatcher(req.stop_sequences);
    this.signer = signer;
    this.showThinking = wantsThinking(req);
  }

  *take(piece: Piece): Generator<StreamEvent> {
    if (this.stoppedBy !== undefined) return;
    if (piece.kind === "call") return yield* this.call(piece);
    const pieces = piece.kind === "text" ? this.tags.push(piece.text) : [piece];
    for (const p of pieces) yield* p.kind === "thinking" ? this.thinking(p.text) : this.text(p.text);
  }

  *flush(): Generator<StreamEvent> {
    if (this.stoppedBy === undefined) {
      for (const p of this.tags.flush())
        yield* p.kind === "thinking" ? this.thinking(p.text) : this.text(p.text);
    }
    if (this.stoppedBy === undefined) yield* this.out.text(this.stops.flush());
    yield* this.endThinking();
  }

  stopReason(res: LlamaChatResponse | undefined): StopReason {
    if (this.stoppedBy !== undefined) return "stop_sequence";
    switch (res?.metadata.stopReason) {
      case "maxTokens":
        return "max_tokens";
      case "functionCalls":
        return "tool_use";
      default:
        return this.calls > 0 ? "tool_use" : "end_turn";
    }
  }

  private *thinking(text: string): Generator<StreamEvent> {
    if (!this.showThinking) return;
    this.thinkingText = (this.thinkingText ?? "") + text;
    yield* this.out.thinking(text);
  }

  private *endThinking(): Generator<StreamEvent> {
    if (this.thinkingText === undefined) return;
    yield* this.out.signature(this.signer.sign(this.thinkingText));
    this.thinkingText = undefined;
  }

  private *text(text: string): Generator<StreamEvent> {
    const { emit, stopped } = this.stops.push(text);
    if (emit !== "" || stopped !== undefined) yield* this.endThinking();
    yield* this.out.text(emit);
    if (stopped !== undefined) this.stoppedBy = stopped;
  }

  private *call(piece: { index: number; name: string; json: string }): Generator<StreamEvent> {
    yield* this.endThinking();
    if (piece.index !== this.callIndex) {
      const pending = this.stops.flush();
      yield* this.out.text(pending.trimEnd());
      this.callIndex = piece.index;
      this.calls++;
      yield* this.out.toolUse(newToolUseId(), piece.name);
    }
    if (piece.json !== "") yield* this.out.inputJson(piece.json);
  }
}
