import type { McpConfig } from "../config/index.ts";
import {
  type ContentBlockParam,
  type IterationUsage,
  type Message,
  type MessageRequest,
  newMcpToolUseId,
  type StopReason,
  type StreamEvent,
  StreamFolder,
  type ToolChoice,
  type ToolResultBlockParam,
  type Turn,
} from "../protocol/index.ts";
import type { Provider, StreamOptions } from "../providers/index.ts";
import type { McpSession } from "./mcp-connector.ts";
import type { McpToolRef } from "./toolset.ts";

interface PendingCall {
  ref: McpToolRef;
  /** The `mcptoolu_…` id the client sees. */
  id: string;
  /** Index of the provider's tool_use block within its pass. */
  index: number;
}

/** The usage of every pass so far, summed. */
export interface PassTotals {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/**
 * The server-side tool loop around one provider: each sampling pass is relayed as part of one
 * message (one `message_start`, block indexes running on across passes, one `message_delta` with
 * the usage of all passes). A call to an MCP tool is shown as `mcp_tool_use`, run, answered with
 * `mcp_tool_result` and fed back; a call to a client tool ends the turn as usual. The loop stops
 * with `pause_turn` at `max_iterations` passes or `max_loop_ms`, as the hosted API does.
 */
export async function* runToolLoop(
  provider: Provider,
  session: McpSession,
  request: MessageRequest,
  options: StreamOptions,
  config: McpConfig,
  onUsage: (usage: PassTotals) => void = () => {},
): AsyncGenerator<StreamEvent> {
  const started = performance.now();
  const totals: PassTotals = {
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
  const iterations: IterationUsage[] = [];
  let req = session.prepare(request);
  let offset = session.fetchedListings.length;
  for (let pass = 1; ; pass++) {
    const calls: PendingCall[] = [];
    const folder = new StreamFolder();
    for await (const event of provider.stream(req, options)) {
      if (event.type === "error") {
        yield event;
        return;
      }
      folder.add(event);
      // A later pass re-reads the whole prompt: charge its input now, not when it ends, so a
      // client that leaves during it is charged for what was evaluated.
      if (event.type === "message_start" && pass > 1) onUsage(withPassInput(totals, event.message.usage));
      const relayed = relay(event, pass, offset, session, calls);
      if (relayed) yield relayed;
      if (event.type === "message_start" && pass === 1) yield* listingBlocks(session);
    }
    const message = folder.result();
    count(totals, iterations, message);
    onUsage({ ...totals });
    offset += message.content.length;
    if (message.stop_reason !== "tool_use" || calls.length === 0) {
      yield* finish(message.stop_reason ?? "end_turn", message.stop_sequence, totals, iterations);
      return;
    }
    const results: ToolResultBlockParam[] = [];
    for (const call of calls) {
      const use = message.content[call.index];
      const input = use.type === "tool_use" ? use.input : {};
      const result = await session.call(call.ref, input);
      yield {
        type: "content_block_start",
        index: offset,
        content_block: { type: "mcp_tool_result", tool_use_id: call.id, ...result },
      };
      yield { type: "content_block_stop", index: offset++ };
      const content =
        typeof result.content === "string"
          ? result.content
          : result.content.map((t) => ({ type: "text" as const, text: t.text }));
      results.push({
        type: "tool_result",
        tool_use_id: use.type === "tool_use" ? use.id : call.id,
        content,
        ...(result.is_error ? { is_error: true } : {}),
      });
    }
    const clientCall = message.content.some(
      (b) => b.type === "tool_use" && !session.tools.byModelName(b.name),
    );
    if (clientCall) {
      yield* finish("tool_use", null, totals, iterations);
      return;
    }
    if (pass >= config.max_iterations || performance.now() - started >= config.max_loop_ms) {
      yield* finish("pause_turn", null, totals, iterations);
      return;
    }
    const left = request.max_tokens - totals.output_tokens;
    if (left <= 0) {
      yield* finish("max_tokens", null, totals, iterations);
      return;
    }
    req = {
      ...req,
      max_tokens: left,
      tool_choice: laterChoice(req.tool_choice),
      messages: append(req.messages, message.content as ContentBlockParam[], results),
    };
  }
}

/** A pass's event as the client sees it; null for what only the last pass may send. */
function relay(
  event: StreamEvent,
  pass: number,
  offset: number,
  session: McpSession,
  calls: PendingCall[],
): StreamEvent | null {
  switch (event.type) {
    case "message_start":
      return pass === 1 ? event : null;
    case "content_block_start": {
      const block = event.content_block;
      const ref = block.type === "tool_use" ? session.tools.byModelName(block.name) : undefined;
      if (!ref) return { ...event, index: offset + event.index };
      const id = newMcpToolUseId();
      calls.push({ ref, id, index: event.index });
      return {
        type: "content_block_start",
        index: offset + event.index,
        content_block: { type: "mcp_tool_use", id, name: ref.name, server_name: ref.server, input: {} },
      };
    }
    case "content_block_delta":
    case "content_block_stop":
      return { ...event, index: offset + event.index };
    case "message_delta":
    case "message_stop":
      return null;
    default:
      return event;
  }
}

/** The fetched tool listings, first in the reply (as the hosted connector returns them). */
function* listingBlocks(session: McpSession): Generator<StreamEvent> {
  let index = 0;
  for (const listing of session.fetchedListings) {
    const tools = listing.tools.map((t) => ({
      name: t.name,
      ...(typeof t.description === "string" ? { description: t.description } : {}),
      input_schema: t.input_schema,
    }));
    yield {
      type: "content_block_start",
      index,
      content_block: { type: "mcp_tool_listing", mcp_server_name: listing.mcp_server_name, tools },
    };
    yield { type: "content_block_stop", index: index++ };
  }
}

/** After an MCP call the model chooses freely: a forced choice applies to the first pass only. */
function laterChoice(choice: ToolChoice): ToolChoice {
  if (choice.type === "none") return choice;
  return choice.disable_parallel_tool_use
    ? { type: "auto", disable_parallel_tool_use: true }
    : { type: "auto" };
}

/** The pass's reply and the tool results, appended as the next turns (a prefilled assistant turn is extended). */
function append(messages: Turn[], reply: ContentBlockParam[], results: ToolResultBlockParam[]): Turn[] {
  const out = [...messages];
  const last = out[out.length - 1];
  if (last?.role === "assistant")
    out[out.length - 1] = { role: "assistant", content: [...last.content, ...reply] };
  else out.push({ role: "assistant", content: reply });
  out.push({ role: "user", content: results });
  return out;
}

/** The totals so far plus the input a starting pass reports. */
function withPassInput(totals: PassTotals, u: Message["usage"]): PassTotals {
  return {
    ...totals,
    input_tokens: totals.input_tokens + u.input_tokens,
    cache_creation_input_tokens: totals.cache_creation_input_tokens + (u.cache_creation_input_tokens ?? 0),
    cache_read_input_tokens: totals.cache_read_input_tokens + (u.cache_read_input_tokens ?? 0),
  };
}

function count(totals: PassTotals, iterations: IterationUsage[], message: Message): void {
  const u = message.usage;
  const pass = {
    input_tokens: u.input_tokens,
    output_tokens: u.output_tokens,
    cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
  };
  for (const k of Object.keys(pass) as (keyof typeof pass)[]) totals[k] += pass[k];
  iterations.push({
    type: "message",
    ...pass,
    cache_creation: u.cache_creation ?? null,
    model: message.model,
  });
}

function* finish(
  stop_reason: StopReason,
  stop_sequence: string | null,
  totals: PassTotals,
  iterations: IterationUsage[],
): Generator<StreamEvent> {
  yield {
    type: "message_delta",
    delta: { stop_reason, stop_sequence: stop_reason === "stop_sequence" ? stop_sequence : null },
    usage: { ...totals, iterations },
  };
  yield { type: "message_stop" };
}
