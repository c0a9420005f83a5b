import type { Turn } from "../protocol/index.ts";

const isThinking = (type: string) => type === "thinking" || type === "redacted_thinking";

/**
 * Drops the thinking blocks of all but the last `keep` assistant turns. Returns how many turns
 * lost thinking (`cleared_thinking_turns`); the turns themselves are new objects, the input
 * is not changed.
 */
export function clearThinking(
  turns: readonly Turn[],
  keep: number | "all",
): { turns: Turn[]; cleared: number } {
  if (keep === "all") return { turns: [...turns], cleared: 0 };
  const assistant = turns.flatMap((t, i) => (t.role === "assistant" ? [i] : []));
  const older = new Set(assistant.slice(0, Math.max(0, assistant.length - keep)));
  let cleared = 0;
  const out = turns.map((turn, i) => {
    if (!older.has(i) || !turn.content.some((b) => isThinking(b.type))) return turn;
    cleared++;
    return { ...turn, content: turn.content.filter((b) => !isThinking(b.type)) };
  });
  return { turns: out, cleared };
}
