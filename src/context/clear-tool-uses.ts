import type { ContentBlockParam, Turn } from "../protocol/index.ts";
import type { ClearToolUsesPlan } from "./edits.ts";

/** What a cleared tool result says instead, so the model knows something was there. */
export const CLEARED_TOOL_RESULT = "[Old tool result cleared to save context]";

export interface ToolUseRef {
  id: string;
  name: string;
  /** Characters of its result: a proxy for how much clearing it saves. */
  resultChars: number;
  /** Its result is already the placeholder. */
  cleared: boolean;
}

/** Every tool_use in the conversation, oldest first, with the size of its result. */
export function listToolUses(turns: readonly Turn[]): ToolUseRef[] {
  const sizes = new Map<string, number>();
  const cleared = new Set<string>();
  for (const t of turns)
    for (const b of t.content) {
      if (b.type !== "tool_result") continue;
      sizes.set(b.tool_use_id, resultChars(b.content));
      if (b.content === CLEARED_TOOL_RESULT) cleared.add(b.tool_use_id);
    }
  return turns.flatMap((t) =>
    t.role !== "assistant"
      ? []
      : t.content.flatMap((b) =>
          b.type === "tool_use"
            ? [{ id: b.id, name: b.name, resultChars: sizes.get(b.id) ?? 0, cleared: cleared.has(b.id) }]
            : [],
        ),
  );
}

/**
 * The tool uses the hosted rule clears: the oldest, all but the last `keep` of those not
 * excluded. A result no longer than the placeholder stays as it is (clearing it would grow the
 * prompt) and is not counted as cleared.
 */
export function hostedChoice(uses: readonly ToolUseRef[], plan: ClearToolUsesPlan): ToolUseRef[] {
  const clearable = uses.filter((u) => !plan.exclude.has(u.name));
  return clearable
    .slice(0, Math.max(0, clearable.length - plan.keep))
    .filter((u) => !u.cleared && u.resultChars > CLEARED_TOOL_RESULT.length);
}

/** Whether the plan's trigger is passed by this prompt. */
export function triggered(plan: ClearToolUsesPlan, tokens: number, uses: readonly ToolUseRef[]): boolean {
  return plan.trigger.type === "input_tokens"
    ? tokens > plan.trigger.value
    : uses.length > plan.trigger.value;
}

/**
 * The turns with the results of `ids` replaced by the placeholder (and their inputs emptied
 * when `clearInputs` says so). Pairs stay intact, so every backend's validation still holds.
 */
export function clearToolUses(
  turns: readonly Turn[],
  ids: ReadonlySet<string>,
  clearInputs: boolean | ReadonlySet<string>,
): Turn[] {
  const clearInput = (name: string) =>
    typeof clearInputs === "boolean" ? clearInputs : clearInputs.has(name);
  return turns.map((turn) => {
    if (!turn.content.some((b) => (b.type === "tool_use" || b.type === "tool_result") && touched(b, ids)))
      return turn;
    return {
      ...turn,
      content: turn.content.map((b): ContentBlockParam => {
        if (b.type === "tool_result" && ids.has(b.tool_use_id)) return { ...b, content: CLEARED_TOOL_RESULT };
        if (b.type === "tool_use" && ids.has(b.id) && clearInput(b.name)) return { ...b, input: {} };
        return b;
      }),
    };
  });
}

function touched(b: ContentBlockParam, ids: ReadonlySet<string>): boolean {
  if (b.type === "tool_result") return ids.has(b.tool_use_id);
  if (b.type === "tool_use") return ids.has(b.id);
  return false;
}

function resultChars(content: string | readonly { type: string; text?: string }[] | undefined): number {
  if (content === undefined) return 0;
  if (typeof content === "string") return content.length;
  return content.reduce((n, c) => n + (c.text?.length ?? 16), 0);
}
