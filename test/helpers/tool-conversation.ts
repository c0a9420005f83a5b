import type { MessageCreateParams } from "../../src/protocol/index.ts";

type Messages = MessageCreateParams["messages"];

/** Deterministic filler of about `words` words (distinct per seed, so results differ). */
export function filler(words: number, seed: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(`w${(seed * 7919 + i * 104729) % 9973}`);
  return out.join(" ");
}

/**
 * A multi-turn agent conversation: the user asks, then `uses` rounds of assistant tool_use and
 * user tool_result (each result `resultWords` words), ending on a tool_result so the model answers.
 * Tools alternate between `read_file` and `grep`; assistant turns may carry thinking.
 */
export function toolConversation(
  uses: number,
  resultWords: number,
  opts: { thinking?: boolean } = {},
): Messages {
  const messages: Messages = [{ role: "user", content: "Look through the repository and summarise it." }];
  for (let i = 0; i < uses; i++) {
    const name = i % 2 === 0 ? "read_file" : "grep";
    const id = `toolu_${String(i).padStart(4, "0")}`;
    const thinking = opts.thinking
      ? [{ type: "thinking" as const, thinking: `step ${i}: ${filler(20, 1000 + i)}`, signature: "" }]
      : [];
    messages.push({
      role: "assistant",
      content: [
        ...thinking,
        { type: "text", text: `Checking part ${i}.` },
        { type: "tool_use", id, name, input: { path: `src/file-${i}.ts` } },
      ],
    });
    messages.push({
      role: "user",
      content: [{ type: "tool_result", tool_use_id: id, content: filler(resultWords, i) }],
    });
  }
  return messages;
}
