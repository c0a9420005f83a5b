/** A free slot as the choice sees it. */
export interface SlotCandidate {
  /** Prompt tokens the slot already holds for this request. */
  reused: number;
  /** Busy slots in the slot's context: a context decoding alone runs fastest. */
  contextBusy: number;
  lastUsed: number;
  /** The session whose main conversation the slot holds, and that conversation's prompt length. */
  pinnedBy?: string;
  pinnedLength: number;
}

/**
 * A request of a session is its main conversation when it is about as long as the prompt
 * pinned for the session and shares a good part of it (a quarter: at least the system prompt
 * and tools, even after a context edit changed an early turn). Side requests, such as titles,
 * quota probes and sub-agents, are short or start differently.
 */
export function continuesPin(slot: SlotCandidate, promptLength: number): boolean {
  return slot.reused >= slot.pinnedLength * 0.25 && promptLength >= slot.pinnedLength * 0.8;
}

/** Whether a request of this length should (re)pin its session to the slot it runs on. */
export const takesPin = (pinnedLength: number | undefined, promptLength: number): boolean =>
  pinnedLength === undefined || promptLength >= pinnedLength * 0.8;

/**
 * Which free slot a request gets. A session's main conversation returns to the slot pinned for
 * it; everything else prefers slots no session has pinned, so side requests do not evict a
 * main prefix; then the longest shared prefix wins (by 32 tokens or more), then the slot whose
 * context has the fewest busy slots (contexts decode side by side), then the longer prefix, then
 * the least recently used slot.
 * Without a session id the longest prefix decides, pinned slots losing ties.
 */
export function chooseSlot(free: readonly SlotCandidate[], promptLength: number, session?: string): number {
  if (session !== undefined) {
    const pin = free.findIndex((s) => s.pinnedBy === session);
    if (pin >= 0 && continuesPin(free[pin], promptLength)) return pin;
  }
  let best = -1;
  for (let i = 0; i < free.length; i++) {
    if (best < 0 || better(free[i], free[best], session !== undefined)) best = i;
  }
  return best;
}

/**
 * Fewer shared tokens than this do not decide: every conversation shares its chat template's
 * first tokens, and re-reading a few dozen tokens costs less than decoding beside a busy slot.
 */
const NEGLIGIBLE_REUSE = 32;

function better(a: SlotCandidate, b: SlotCandidate, avoidPins: boolean): boolean {
  const aFree = a.pinnedBy === undefined;
  const bFree = b.pinnedBy === undefined;
  if (avoidPins && aFree !== bFree) return aFree;
  if (Math.abs(a.reused - b.reused) >= NEGLIGIBLE_REUSE) return a.reused > b.reused;
  if (aFree !== bFree) return aFree;
  if (a.contextBusy !== b.contextBusy) return a.contextBusy < b.contextBusy;
  if (a.reused !== b.reused) return a.reused > b.reused;
  return a.lastUsed < b.lastUsed;
}
