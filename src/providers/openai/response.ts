import type { StreamEvent } from "../../protocol/index.ts";
import { type ChunkTranslatorOptions, OpenAIChunkTranslator, UpstreamStreamError } from "./stream.ts";
import type { OpenAIResponse } from "./types.ts";

/**
 * A non-streaming Chat Completions response as Anthropic stream events (the server folds them
 * into one Message). It goes through the chunk translator as a single chunk, so both paths
 * share every rule.
 */
export function fromOpenAIResponse(
  res: OpenAIResponse,
  options: ChunkTranslatorOptions,
  t = new OpenAIChunkTranslator(options),
): StreamEvent[] {
  const choice = checkedChoice(res);
  const m = choice.message;
  const events = t.push({
    choices: [
      {
        index: 0,
        delta: {
          reasoning_content: m.reasoning_content ?? m.reasoning ?? null,
          content: m.content ?? null,
          tool_calls: m.tool_calls?.map((c, index) => ({ index, ...c })) ?? null,
        },
        finish_reason: choice.finish_reason ?? "stop",
        ...("stop_reason" in choice ? { stop_reason: choice.stop_reason } : {}),
      },
    ],
    usage: res.usage,
  });
  return [...events, ...t.end(true)];
}

/**
 * The first choice of a 200 reply, or a 500: an upstream that answers 200 with an `error` body,
 * without `choices`, or with a choice lacking its message has failed, whatever its status says.
 */
function checkedChoice(res: OpenAIResponse): OpenAIResponse["choices"][number] {
  const body = res as unknown as Record<string, unknown> | null;
  if (!body || typeof body !== "object" || Array.isArray(body))
    throw new UpstreamStreamError("The upstream sent a malformed reply", JSON.stringify(res).slice(0, 500));
  if (body.error !== undefined && body.error !== null)
    throw new UpstreamStreamError(
      "The upstream failed while replying",
      JSON.stringify(body.error).slice(0, 500),
    );
  const choice = Array.isArray(res.choices) ? res.choices.find((c) => (c?.index ?? 0) === 0) : undefined;
  if (!choice || typeof choice.message !== "object" || choice.message === null)
    throw new UpstreamStreamError(
      "The upstream sent a reply without choices",
      JSON.stringify(res).slice(0, 500),
    );
  return choice;
}
