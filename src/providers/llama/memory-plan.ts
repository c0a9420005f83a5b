/**
 * How many generation slots a model gets. Each slot holds a full window of KV cache, so a long
 * window times four slots can ask for more memory than a laptop has: the plan keeps the window
 * (clients need it to fit their prompt) and lowers the slot count until the cache fits the
 * budget, and says why in the load log.
 */
export interface SlotPlanInput {
  /** Slots the config asked for. */
  parallel: number;
  /** Estimated bytes of context memory (KV cache and buffers) for `slots` slots. */
  bytesFor: (slots: number) => number;
  /** Bytes the context may take: total memory less the weights, with head-room. */
  budgetBytes: number;
}

export interface SlotPlan {
  parallel: number;
  estimatedBytes: number;
  /** Set when the plan gave fewer slots than asked, in words for the log. */
  reduced?: string;
}

export function planSlots({ parallel, bytesFor, budgetBytes }: SlotPlanInput): SlotPlan {
  const asked = bytesFor(parallel);
  if (asked <= budgetBytes || parallel === 1) return { parallel, estimatedBytes: asked };
  let slots = parallel;
  while (slots > 1 && bytesFor(slots) > budgetBytes) slots--;
  const estimatedBytes = bytesFor(slots);
  return {
    parallel: slots,
    estimatedBytes,
    reduced: `${parallel} slots would need ${mb(asked)} MB of context memory, over the ${mb(budgetBytes)} MB budget; using ${slots} (${mb(estimatedBytes)} MB). Set \`parallel\`, \`context_window\` or \`kv_cache_type: q8_0\` to choose.`,
  };
}

/** Memory the context may take: 80% of the machine's memory less the weights. */
export function contextBudget(totalMemoryBytes: number, weightsBytes: number): number {
  return Math.max(0, totalMemoryBytes * 0.8 - weightsBytes);
}

export const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
