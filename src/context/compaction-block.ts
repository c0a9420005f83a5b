import type { ContentBlockParam, Turn } from "../protocol/index.ts";

/**
 * How a compaction summary is shown to the model: a user turn at the start of the prompt. The
 * request that wrote the summary and every later one render it the same way, so the reply's
 * prefix stays in the prompt cache across the compaction.
 */
export function summaryTurn(summary: string): Turn {
  return {
    role: "user",
    content: [
      {
        type: "text",
        text: `This conversation continues an earlier one that was compacted to fit the context window. Summary of the earlier conversation:\n\n${summary}`,
      },
    ],
  };
}

const isCompaction = (b: ContentBlockParam): b is Extract<ContentBlockParam, { type: "compaction" }> =>
  b.type === "compaction";

/**
 * A compaction block the client sent back replaces everything before it (the last one wins);
 * blocks with `content: null` are failed compactions and are dropped as no-ops. Returns the
 * turns unchanged (same array) when there is no compaction block.
 */
export function dropBeforeCompaction(turns: readonly Turn[]): Turn[] {
  if (!turns.some((t) => t.content.some(isCompaction))) return turns as Turn[];
  let at: { turn: number; block: number } | undefined;
  for (const [i, t] of turns.entries()) {
    for (const [j, b] of t.content.entries()) {
      if (isCompaction(b) && typeof b.content === "string" && b.content !== "") at = { turn: i, block: j };
    }
  }
  const kept: Turn[] = [];
  if (at) {
    const start = turns[at.turn];
    const block = start.content[at.block] as { content: string };
    kept.push(summaryTurn(block.content));
    kept.push({ role: start.role, content: start.content.slice(at.block + 1) });
    kept.push(...turns.slice(at.turn + 1));
  } else kept.push(...turns);
  return mergeTurns(kept.map((t) => ({ ...t, content: t.content.filter((b) => !isCompaction(b)) })));
}

/** Drops empty turns and joins neighbours of the same role, as the protocol's normaliser does. */
export function mergeTurns(turns: readonly Turn[]): Turn[] {
  const out: Turn[] = [];
  for (const t of turns) {
    if (t.content.length === 0) continue;
    const last = out[out.length - 1];
    if (last && last.role === t.role)
      out[out.length - 1] = { role: t.role, content: [...last.content, ...t.content] };
    else out.push(t);
  }
  return out;
}
