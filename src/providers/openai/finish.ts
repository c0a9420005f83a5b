import type { PromptUsage, StopReason } from "../../protocol/index.ts";
import type { OpenAIUsage } from "./types.ts";

/** `finish_reason` → `stop_reason`. */
export function stopReasonFor(finishReason: string | null | undefined): StopReason {
  switch (finishReason) {
    case "length":
      return "max_tokens";
    case "tool_calls":
    case "function_call":
      return "tool_use";
    case "content_filter":
      return "refusal";
    default:
      return "end_turn";
  }
}

/** vLLM names the stop string that ended generation in `stop_reason`; others do not say. */
export function matchedStopSequence(stopReason: unknown, sequences: readonly string[]): string | undefined {
  return typeof stopReason === "string" && sequences.includes(stopReason) ? stopReason : undefined;
}

/**
 * Prompt usage the way the hosted API counts it: cached prompt tokens are reported as
 * `cache_read_input_tokens` and are not part of `input_tokens`.
 */
export function promptUsageFrom(u: OpenAIUsage): PromptUsage {
  const prompt = u.prompt_tokens ?? 0;
  const cached = Math.min(prompt, u.prompt_tokens_details?.cached_tokens ?? 0);
  return { input_tokens: prompt - cached, cache_read_input_tokens: cached };
}
