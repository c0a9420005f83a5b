/**
 * How many generation slots a model gets, over how many contexts. Each slot holds a full window
 * of KV cache and each context buffers of its own, so a long window times four slots can ask for
 * more memory than a laptop has: the plan keeps the window (clients need it to fit their prompt),
 * first spreads the slots over fewer contexts, then lowers the slot count until the cache fits
 * the budget, and says why in the load log.
 */
export interface SlotPlanInput {
  /** Slots the config asked for. */
  parallel: number;
  /** Context counts to try for `slots` slots, the preferred first (default: one context). */
  contextsFor?: (slots: number) => number[];
  /** Estimated bytes of context memory (KV cache and buffers) for `slots` slots over `contexts`. */
  bytesFor: (slots: number, contexts: number) => number;
  /** Bytes the context may take: total memory less the weights, with head-room. */
  budgetBytes: number;
}

export interface SlotPlan {
  parallel: number;
  contexts: number;
  estimatedBytes: number;
  /** Set when the plan gave fewer slots or contexts than preferred, in words for the log. */
  reduced?: string;
}

export function planSlots({
  parallel,
  contextsFor = () => [1],
  bytesFor,
  budgetBytes,
}: SlotPlanInput): SlotPlan {
  const preferred = contextsFor(parallel)[0] ?? 1;
  const asked = bytesFor(parallel, preferred);
  let fit: { slots: number; contexts: number } | undefined;
  for (let slots = parallel; slots >= 1 && !fit; slots--) {
    const contexts = contextsFor(slots).find((c) => bytesFor(slots, c) <= budgetBytes);
    if (contexts !== undefined) fit = { slots, contexts };
  }
  const { slots, contexts } = fit ?? { slots: 1, contexts: contextsFor(1).at(-1) ?? 1 };
  const estimatedBytes = bytesFor(slots, contexts);
  if (slots === parallel && contexts === preferred) return { parallel, contexts, estimatedBytes };
  const over = `would need ${mb(asked)} MB of context memory, over the ${mb(budgetBytes)} MB budget`;
  const choose = "Set `parallel`, `contexts`, `context_window` or `kv_cache_type: q8_0` to choose.";
  const spread = (n: number) => `${n} ${n === 1 ? "context" : "contexts"}`;
  const reduced =
    slots === parallel
      ? `${parallel} slots over ${spread(preferred)} ${over}; using ${spread(contexts)} (${mb(estimatedBytes)} MB). ${choose}`
      : `${parallel} slots ${over}; using ${slots} over ${spread(contexts)} (${mb(estimatedBytes)} MB). ${choose}`;
  return { parallel: slots, contexts, estimatedBytes, reduced };
}

/** Memory the context may take: 80% of the machine's memory less the weights. */
export function contextBudget(totalMemoryBytes: number, weightsBytes: number): number {
  return Math.max(0, totalMemoryBytes * 0.8 - weightsBytes);
}

export const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
