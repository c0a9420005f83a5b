import {
  foldStream,
  type IterationUsage,
  invalidRequest,
  type Message,
  type MessageRequest,
  type StreamEvent,
  type Turn,
} from "../protocol/index.ts";
import type { TokenCounter } from "./edit-request.ts";
import type { CompactPlan } from "./edits.ts";
import { splitText, transcript } from "./transcript.ts";

/** The model that writes the summary: the serving one, or the entry's `compaction_model`. */
export interface Summariser {
  model: string;
  stream(request: MessageRequest): AsyncIterable<StreamEvent>;
  count: TokenCounter;
  /** Its context window, when known: a longer conversation is summarised in segments. */
  window?: number;
  /** Its output cap (`max_output_tokens`): the summary is no longer. */
  maxOutputTokens?: number;
}

export interface Compaction {
  /** The summary, or null when the model wrote nothing usable (a failed compaction). */
  summary: string | null;
  iterations: IterationUsage[];
}

const SUMMARY_TOKENS = 4096;

/**
 * Summarises the conversation with the compaction instructions. When the transcript does not
 * fit the summariser's window it goes in segments, each pass folding the next segment into the
 * summary so far ("segment, summarise, keep what matters"); each pass is one `compaction`
 * iteration in `usage.iterations`.
 */
export async function compactConversation(
  request: MessageRequest,
  turns: readonly Turn[],
  plan: CompactPlan,
  summariser: Summariser,
): Promise<Compaction> {
  const text = transcript(turns);
  const cap = Math.min(SUMMARY_TOKENS, summariser.maxOutputTokens ?? SUMMARY_TOKENS);
  const maxTokens = summariser.window ? Math.min(cap, Math.max(64, Math.floor(summariser.window / 4))) : cap;
  const limit = summariser.window ? summariser.window - maxTokens : Number.POSITIVE_INFINITY;
  const ask = (segment: string, sofar: string | null) =>
    summaryRequest(request, summariser.model, segmentPrompt(segment, sofar, plan.instructions), maxTokens);
  const whole = await summariser.count(ask(text, null));
  let segments = [text];
  if (whole > limit) {
    const overhead = await summariser.count(ask("", "x".repeat(maxTokens * 4)));
    const room = limit - overhead;
    if (room < 64)
      throw invalidRequest("compaction: the model's context window is too small to summarise in");
    segments = splitText(text, Math.ceil((whole / room) * 1.15));
  }
  let summary: string | null = null;
  const iterations: IterationUsage[] = [];
  for (const segment of segments) {
    const reply = await foldStream(summariser.stream(ask(segment, summary)));
    iterations.push(iteration("compaction", reply));
    summary = summaryText(reply) ?? summary;
  }
  return { summary, iterations };
}

function segmentPrompt(segment: string, sofar: string | null, instructions: string): string {
  const head = sofar ? `Summary of the conversation so far:\n${sofar}\n\nThe conversation continues:\n` : "";
  return `${head}<transcript>\n${segment}\n</transcript>\n\n${instructions}`;
}

function summaryRequest(
  request: MessageRequest,
  model: string,
  prompt: string,
  maxTokens: number,
): MessageRequest {
  const messages = [{ role: "user" as const, content: [{ type: "text" as const, text: prompt }] }];
  return {
    ...request,
    model,
    params: { model, max_tokens: maxTokens, messages },
    max_tokens: maxTokens,
    stream: true,
    system: [],
    messages,
    tools: [],
    tool_choice: { type: "auto" },
    stop_sequences: [],
    thinking: undefined,
    output_schema: undefined,
  };
}

/** The text inside `<summary>` when the model used the tags, else all its text; null when empty. */
export function summaryText(reply: Message): string | null {
  const text = reply.content
    .flatMap((b) => (b.type === "text" ? [b.text] : []))
    .join("")
    .trim();
  const tagged = /<summary>([\s\S]*?)<\/summary>/.exec(text)?.[1]?.trim();
  const summary = tagged || text;
  return summary === "" ? null : summary;
}

export function iteration(type: "compaction" | "message", reply: Message): IterationUsage {
  const u = reply.usage;
  const usage: IterationUsage = {
    type,
    input_tokens: u.input_tokens,
    output_tokens: u.output_tokens,
    cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
    cache_creation: u.cache_creation,
  };
  if (type === "message") usage.model = reply.model;
  return usage;
}
