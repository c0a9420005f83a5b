import type { StreamEvent } from "../../protocol/index.ts";
import { type ChunkTranslatorOptions, OpenAIChunkTranslator } from "./stream.ts";
import type { OpenAIResponse } from "./types.ts";

/**
 * A non-streaming Chat Completions response as Anthropic stream events (the server folds them
 * into one Message). It goes through the chunk translator as a single chunk, so both paths
 * share every rule.
 */
export function fromOpenAIResponse(res: OpenAIResponse, options: ChunkTranslatorOptions): StreamEvent[] {
  const t = new OpenAIChunkTranslator(options);
  const choice = res.choices?.find((c) => (c.index ?? 0) === 0);
  const m = choice?.message;
  const events = t.push({
    choices: [
      {
        index: 0,
        delta: {
          reasoning_content: m?.reasoning_content ?? m?.reasoning ?? null,
          content: m?.content ?? null,
          tool_calls: m?.tool_calls?.map((c, index) => ({ index, ...c })) ?? null,
        },
        finish_reason: choice?.finish_reason ?? "stop",
        stop_reason: choice?.stop_reason,
      },
    ],
    usage: res.usage,
  });
  return [...events, ...t.end(true)];
}
