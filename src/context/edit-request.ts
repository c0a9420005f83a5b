import type { AppliedEdit, MessageRequest, Turn } from "../protocol/index.ts";
import { clearThinking } from "./clear-thinking.ts";
import {
  CLEARED_TOOL_RESULT,
  clearToolUses,
  hostedChoice,
  listToolUses,
  type ToolUseRef,
  triggered,
} from "./clear-tool-uses.ts";
import { dropBeforeCompaction } from "./compaction-block.ts";
import { type ClearToolUsesPlan, type CompactPlan, planEdits } from "./edits.ts";
import { type ContextSettings, promptLimit } from "./settings.ts";

/** Counts a request's input tokens with the serving model's own tokenizer. */
export type TokenCounter = (request: MessageRequest) => Promise<number>;

/** The prompt the model will see, and what was done to get it. */
export interface EditedRequest {
  request: MessageRequest;
  applied: AppliedEdit[];
  /** Whether the reply says what was done (`context_management`): the request asked, or Parley edited on its own. */
  report: boolean;
  /** A compaction edit whose trigger this prompt passed: the summary is written before the reply. */
  compact?: CompactPlan;
  /** Input tokens as sent, and after the edits (undefined when nothing needed counting). */
  originalTokens?: number;
  tokens?: number;
}

/**
 * Whether a request goes to the model exactly as sent, with nothing to report: no edits asked or
 * configured, no earlier compaction to drop. Decided without counting tokens, so the common
 * request skips context management entirely.
 */
export function untouched(request: MessageRequest, settings: ContextSettings): boolean {
  return (
    request.params.context_management == null &&
    !settings.clearOnOverflow &&
    planEdits(request.params.context_management, settings).length === 0 &&
    dropBeforeCompaction(request.messages) === request.messages
  );
}

/**
 * Applies the request's context edits (and the model's automatic ones) to the prompt, in the
 * request's order, measuring each with the model's tokenizer. Pure apart from counting: the
 * client keeps its full history and sends it again, so the same input always gives the same
 * edited prompt, which is what keeps the prompt cache warm between turns.
 */
export async function editRequest(
  request: MessageRequest,
  settings: ContextSettings,
  count: TokenCounter,
  options: { measure?: boolean } = {},
): Promise<EditedRequest> {
  const plans = planEdits(request.params.context_management, settings);
  const report = request.params.context_management != null;
  const applied: AppliedEdit[] = [];
  let turns = dropBeforeCompaction(request.messages);
  const dropped = turns !== request.messages;
  if (plans.length === 0 && !settings.clearOnOverflow && !dropped && !options.measure)
    return { request, applied, report };

  const at = (t: Turn[]) => ({ ...request, messages: t });
  let tokens: number | undefined;
  const current = async () => {
    tokens ??= await count(at(turns));
    return tokens;
  };
  const original = options.measure ? await (dropped ? count(request) : current()) : undefined;
  let compact: CompactPlan | undefined;

  for (const plan of plans) {
    if (plan.type === "clear_thinking_20251015") {
      const edit = clearThinking(turns, plan.keep);
      if (edit.cleared === 0) continue;
      const before = await current();
      const after = await count(at(edit.turns));
      applied.push({
        type: plan.type,
        cleared_input_tokens: before - after,
        cleared_thinking_turns: edit.cleared,
      });
      turns = edit.turns;
      tokens = after;
    } else if (plan.type === "clear_tool_uses_20250919") {
      const edit = await clearHosted(turns, plan, await current(), (t) => count(at(t)));
      if (!edit) continue;
      applied.push(edit.applied);
      turns = edit.turns;
      tokens = edit.tokens;
    } else if ((await current()) > plan.trigger) compact = plan;
  }

  const limit = promptLimit(settings, request.max_tokens);
  if (settings.clearOnOverflow && limit !== undefined && (await current()) > limit) {
    const edit = await clearOverflow(turns, limit, settings, await current(), (t) => count(at(t)));
    if (edit) {
      merge(applied, edit.applied);
      turns = edit.turns;
      tokens = edit.tokens;
    }
  }
  return {
    request: at(turns),
    applied,
    report: report || applied.length > 0,
    compact,
    originalTokens: original,
    tokens: options.measure ? await current() : tokens,
  };
}

interface ClearResult {
  turns: Turn[];
  tokens: number;
  applied: Extract<AppliedEdit, { type: "clear_tool_uses_20250919" }>;
}

/**
 * `clear_tool_uses_20250919`: past the trigger, the oldest tool results beyond the last `keep`.
 * Without `clear_at_least` that is all of them, as documented. With it, clearing goes in whole
 * steps of `clear_at_least` (the oldest results that make up the largest whole number of steps,
 * `keep` still a floor), and is skipped below one step: the cleared set then stays the same
 * from turn to turn until the conversation has grown by another step, so the prompt cache
 * keeps its prefix instead of being invalidated at every turn.
 */
async function clearHosted(
  turns: Turn[],
  plan: ClearToolUsesPlan,
  tokens: number,
  count: (t: Turn[]) => Promise<number>,
): Promise<ClearResult | undefined> {
  const uses = listToolUses(turns);
  if (!triggered(plan, tokens, uses)) return undefined;
  const chosen = hostedChoice(uses, plan);
  if (chosen.length === 0) return undefined;
  const clear = (k: number) => clearToolUses(turns, ids(chosen, k), plan.clearInputs);
  const all = await count(clear(chosen.length));
  const step = plan.clearAtLeast;
  if (step !== undefined && tokens - all < step) return undefined;
  const k =
    step === undefined
      ? chosen.length
      : await smallestPrefix(chosen.length, Math.floor((tokens - all) / step) * step, async (n) =>
          n === chosen.length ? tokens - all : tokens - (await count(clear(n))),
        );
  const edited = clear(k);
  const after = k === chosen.length ? all : await count(edited);
  return {
    turns: edited,
    tokens: after,
    applied: { type: plan.type, cleared_input_tokens: tokens - after, cleared_tool_uses: k },
  };
}

/**
 * The model's opt-in rescue for a prompt that would overflow: clear the oldest tool results,
 * in steps of `clear_at_least` (default a tenth of the window) rather than just enough, so the
 * cleared set, and with it the cached prefix, stays the same for the next turns until the
 * conversation has grown by another step.
 */
async function clearOverflow(
  turns: Turn[],
  limit: number,
  settings: ContextSettings,
  tokens: number,
  count: (t: Turn[]) => Promise<number>,
): Promise<ClearResult | undefined> {
  const candidates = listToolUses(turns).filter(
    (u) => !u.cleared && u.resultChars > CLEARED_TOOL_RESULT.length,
  );
  if (candidates.length === 0) return undefined;
  const window = settings.window ?? limit;
  const step = settings.clearAtLeast ?? Math.max(1, Math.ceil(window / 10));
  const target = Math.ceil((tokens - limit) / step) * step;
  const clear = (k: number) => clearToolUses(turns, ids(candidates, k), false);
  const k = await smallestPrefix(candidates.length, target, async (n) => tokens - (await count(clear(n))));
  const edited = clear(k);
  const after = await count(edited);
  return {
    turns: edited,
    tokens: after,
    applied: { type: "clear_tool_uses_20250919", cleared_input_tokens: tokens - after, cleared_tool_uses: k },
  };
}

const ids = (uses: readonly ToolUseRef[], k: number) => new Set(uses.slice(0, k).map((u) => u.id));

/**
 * The fewest of the oldest `n` candidates whose clearing saves at least `target` tokens (all
 * of them when none suffices), by bisection: savings only grow with more cleared, and the
 * savings of clearing an old result do not depend on what came after it, so the answer is the
 * same on the next turn while `target` is.
 */
async function smallestPrefix(
  n: number,
  target: number,
  saved: (k: number) => Promise<number>,
): Promise<number> {
  let lo = 1;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((await saved(mid)) >= target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** One entry per edit type: the overflow rescue adds to a clear_tool_uses the request already ran. */
function merge(applied: AppliedEdit[], edit: ClearResult["applied"]): void {
  const prior = applied.find((a) => a.type === edit.type);
  if (prior?.type !== "clear_tool_uses_20250919") {
    applied.push(edit);
    return;
  }
  prior.cleared_input_tokens += edit.cleared_input_tokens;
  prior.cleared_tool_uses += edit.cleared_tool_uses;
}
