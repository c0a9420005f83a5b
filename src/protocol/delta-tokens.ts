import type { StreamEvent } from "./schema/index.ts";

type Delta = Extract<StreamEvent, { type: "content_block_delta" }>["delta"];

/**
 * The output tokens one content delta stands for, while no exact count has arrived: one per text
 * or thinking delta (the mock, llama.cpp and OpenAI-style servers send a token per delta), and
 * about four characters a token of tool input. Used to charge replies that end early.
 */
export function deltaTokens(delta: Delta | { type: string; partial_json?: string }): number {
  if (delta.type === "text_delta" || delta.type === "thinking_delta") return 1;
  if (delta.type === "input_json_delta" && "partial_json" in delta)
    return Math.ceil((delta.partial_json ?? "").length / 4);
  return 0;
}
