import type { ModelConfig } from "../config/index.ts";
import {
  type ContextManagementResponse,
  emptyMessage,
  type IterationUsage,
  type MessageRequest,
  newMessageId,
  type StreamEvent,
  StreamFolder,
} from "../protocol/index.ts";
import { type Compaction, compactConversation, iteration, type Summariser } from "./compact.ts";
import { summaryTurn } from "./compaction-block.ts";
import { type EditedRequest, editRequest, type TokenCounter, untouched } from "./edit-request.ts";
import { contextSettings } from "./settings.ts";

/** What context management needs of the model that serves a request. */
export interface ContextModel {
  config: ModelConfig;
  count: TokenCounter;
  /** Writes compaction summaries: the serving model unless the entry names a compaction_model. */
  summariser: Summariser;
}

/** Anthropic upstreams run context management themselves: the request goes through untouched. */
const passesThrough = (config: ModelConfig) => config.provider === "anthropic";

/**
 * The reply to a request after its context edits: the prompt is edited (and compacted when a
 * compaction trigger is passed) before `next` sees it, and the reply says what was done
 * (`context_management.applied_edits` on message_delta, a `compaction` block first,
 * `usage.iterations`). `next` is the provider stream, or whatever wraps it.
 */
export function manageContext(
  model: ContextModel,
  request: MessageRequest,
  next: (request: MessageRequest) => AsyncIterable<StreamEvent>,
): AsyncIterable<StreamEvent> {
  // Nothing to edit or report: the provider's own stream, without a generator around each event.
  if (passesThrough(model.config) || untouched(request, contextSettings(model.config))) return next(request);
  return managed(model, request, next);
}

async function* managed(
  model: ContextModel,
  request: MessageRequest,
  next: (request: MessageRequest) => AsyncIterable<StreamEvent>,
): AsyncGenerator<StreamEvent> {
  const edited = await editRequest(request, contextSettings(model.config), model.count);
  if (edited.compact) yield* compacted(model, edited, next);
  else yield* reported(edited, next(edited.request));
}

/** count_tokens: the edited prompt's count, and the count before edits when the request asked for edits. */
export async function countWithContext(
  model: ContextModel,
  request: MessageRequest,
): Promise<{ input_tokens: number; context_management?: { original_input_tokens: number } }> {
  if (passesThrough(model.config)) return { input_tokens: await model.count(request) };
  const edited = await editRequest(request, contextSettings(model.config), model.count, { measure: true });
  const input_tokens = edited.tokens ?? (await model.count(edited.request));
  if (!edited.report) return { input_tokens };
  return {
    input_tokens,
    context_management: { original_input_tokens: edited.originalTokens ?? input_tokens },
  };
}

const response = (edited: EditedRequest): ContextManagementResponse => ({ applied_edits: edited.applied });

async function* reported(
  edited: EditedRequest,
  events: AsyncIterable<StreamEvent>,
): AsyncGenerator<StreamEvent> {
  for await (const event of events) {
    if (edited.report && event.type === "message_start") {
      yield { ...event, message: { ...event.message, context_management: null } };
    } else if (edited.report && event.type === "message_delta") {
      yield { ...event, context_management: response(edited) };
    } else yield event;
  }
}

/**
 * Summary first, then the answer on the compacted context in the same reply. The message
 * starts at once (pings keep the client waiting while the summary is written); the answer's
 * blocks follow the compaction block, and its prompt usage arrives on message_delta.
 */
async function* compacted(
  model: ContextModel,
  edited: EditedRequest,
  next: (request: MessageRequest) => AsyncIterable<StreamEvent>,
): AsyncGenerator<StreamEvent> {
  const { request } = edited;
  const plan = edited.compact;
  if (!plan) return;
  const start = emptyMessage(newMessageId(), request.model, request.context.apiVersion, { input_tokens: 0 });
  yield { type: "message_start", message: { ...start, context_management: null } };
  const result = await compactConversation(request, request.messages, plan, model.summariser);
  yield* compactionBlock(result);
  if (plan.pause) {
    yield finalDelta(edited, "compaction", { input_tokens: 0, output_tokens: 0 }, result.iterations);
    yield { type: "message_stop" };
    return;
  }
  // A failed compaction (no summary) answers on the uncompacted prompt, as the hosted API does.
  const messages = result.summary === null ? request.messages : [summaryTurn(result.summary)];
  yield* answer(edited, { ...request, messages }, result.iterations, next);
}

function* compactionBlock(result: Compaction): Generator<StreamEvent> {
  yield {
    type: "content_block_start",
    index: 0,
    content_block: { type: "compaction", content: null, encrypted_content: null },
  };
  yield {
    type: "content_block_delta",
    index: 0,
    delta: { type: "compaction_delta", content: result.summary, encrypted_content: null },
  };
  yield { type: "content_block_stop", index: 0 };
}

/** The provider's reply after the compaction block: indexes shifted by one, its usage moved to message_delta. */
async function* answer(
  edited: EditedRequest,
  request: MessageRequest,
  iterations: IterationUsage[],
  next: (request: MessageRequest) => AsyncIterable<StreamEvent>,
): AsyncGenerator<StreamEvent> {
  const folder = new StreamFolder();
  for await (const event of next(request)) {
    folder.add(event);
    switch (event.type) {
      case "message_start":
        break;
      case "content_block_start":
      case "content_block_delta":
      case "content_block_stop":
        yield { ...event, index: event.index + 1 };
        break;
      case "message_delta": {
        const reply = folder.result();
        const u = reply.usage;
        yield finalDelta(
          edited,
          event.delta.stop_reason ?? "end_turn",
          {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
            cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0,
          },
          [...iterations, iteration("message", reply)],
          event.delta.stop_sequence,
        );
        break;
      }
      default:
        yield event;
    }
  }
}

function finalDelta(
  edited: EditedRequest,
  stopReason: NonNullable<Extract<StreamEvent, { type: "message_delta" }>["delta"]["stop_reason"]>,
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_read_input_tokens?: number;
    cache_creation_input_tokens?: number;
  },
  iterations: IterationUsage[],
  stopSequence: string | null = null,
): StreamEvent {
  return {
    type: "message_delta",
    delta: { stop_reason: stopReason, stop_sequence: stopSequence },
    usage: { ...usage, iterations },
    context_management: response(edited),
  };
}
