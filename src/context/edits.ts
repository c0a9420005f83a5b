import { type ContextManagement, invalidRequest } from "../protocol/index.ts";
import type { ContextSettings } from "./settings.ts";

export interface ClearThinkingPlan {
  type: "clear_thinking_20251015";
  /** Most recent assistant turns whose thinking stays, or all of them. */
  keep: number | "all";
}

export interface ClearToolUsesPlan {
  type: "clear_tool_uses_20250919";
  trigger: { type: "input_tokens" | "tool_uses"; value: number };
  keep: number;
  clearAtLeast?: number;
  exclude: ReadonlySet<string>;
  /** Also empty the `tool_use` inputs: all, or of these tools. */
  clearInputs: boolean | ReadonlySet<string>;
}

export interface CompactPlan {
  type: "compact_20260112";
  trigger: number;
  instructions: string;
  pause: boolean;
}

export type EditPlan = ClearThinkingPlan | ClearToolUsesPlan | CompactPlan;

/** The hosted defaults (SDK beta types and the context-editing and compaction docs). */
export const DEFAULTS = {
  clearToolUsesTrigger: 100_000,
  clearToolUsesKeep: 3,
  thinkingKeep: 1,
  compactTrigger: 150_000,
  compactMinimumTrigger: 50_000,
} as const;

/** The summary prompt the hosted API documents; a request's `instructions` replace it. */
export const DEFAULT_SUMMARY_INSTRUCTIONS =
  "You have written a partial transcript for the initial task above. Please write a summary of the transcript. The purpose of this summary is to provide continuity so you can continue to make progress towards solving the task in a future context, where the raw history above will not be accessible and will be replaced with this summary. Write down anything that would be helpful, including the state, next steps, learnings etc. You must wrap your summary in a <summary></summary> block.";

/**
 * The request's `context_management.edits` with every default applied, checked as the hosted
 * API checks them. A model's own defaults replace token amounts larger than its window, so a
 * trigger of 100k on a 4k model still means something.
 */
export function planEdits(cm: ContextManagement | null | undefined, settings: ContextSettings): EditPlan[] {
  const edits = cm?.edits ?? [];
  const seen = new Set<string>();
  return edits.map((edit, i) => {
    if (seen.has(edit.type)) {
      throw invalidRequest(`context_management.edits.${i}: ${edit.type} may appear only once`);
    }
    seen.add(edit.type);
    if (edit.type === "clear_thinking_20251015") {
      if (i !== 0) {
        throw invalidRequest(
          `context_management.edits.${i}: clear_thinking_20251015 must be the first edit when several are given`,
        );
      }
      const keep = edit.keep;
      return {
        type: edit.type,
        keep:
          keep === undefined
            ? DEFAULTS.thinkingKeep
            : keep === "all" || keep.type === "all"
              ? "all"
              : keep.value,
      };
    }
    if (edit.type === "clear_tool_uses_20250919") {
      const trigger = edit.trigger ?? { type: "input_tokens" as const, value: DEFAULTS.clearToolUsesTrigger };
      const inputs = edit.clear_tool_inputs ?? false;
      return {
        type: edit.type,
        trigger:
          trigger.type === "input_tokens"
            ? { type: trigger.type, value: withinWindow(trigger.value, settings.trigger, settings) }
            : trigger,
        keep: edit.keep?.value ?? DEFAULTS.clearToolUsesKeep,
        clearAtLeast: edit.clear_at_least
          ? withinWindow(edit.clear_at_least.value, settings.clearAtLeast, settings)
          : undefined,
        exclude: new Set(edit.exclude_tools ?? []),
        clearInputs: typeof inputs === "boolean" ? inputs : new Set(inputs),
      };
    }
    const trigger = edit.trigger?.value ?? DEFAULTS.compactTrigger;
    if (trigger < DEFAULTS.compactMinimumTrigger) {
      throw invalidRequest(
        `context_management.edits.${i}.trigger.value: must be at least ${DEFAULTS.compactMinimumTrigger} input tokens`,
      );
    }
    const instructions = edit.instructions?.trim() ? edit.instructions : DEFAULT_SUMMARY_INSTRUCTIONS;
    return {
      type: edit.type,
      trigger: withinWindow(trigger, settings.trigger, settings),
      instructions,
      pause: edit.pause_after_compaction ?? false,
    };
  });
}

/** A request's amount, or the model's default when the request's does not fit in the window. */
function withinWindow(
  requested: number,
  modelDefault: number | undefined,
  settings: ContextSettings,
): number {
  if (settings.window === undefined || modelDefault === undefined) return requested;
  return requested > settings.window ? modelDefault : requested;
}
