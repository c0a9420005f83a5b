import type { LlamaContext, LlamaContextSequence, Token } from "node-llama-cpp";
import { ApiError, overloaded } from "../../protocol/index.ts";
import type { CacheEdits } from "./cache-edits.ts";
import { chooseSlot, takesPin } from "./slot-choice.ts";

export interface Slot {
  readonly sequence: LlamaContextSequence;
  /** Which of the pool's contexts holds the sequence. */
  readonly context: number;
}

export interface Lease {
  slot: Slot;
  /** Prompt tokens whose KV state the slot already holds (the last prompt token is always re-evaluated). */
  reused: number;
  release(): void;
}

interface SlotState extends Slot {
  busy: boolean;
  lastUsed: number;
  /** The session whose main conversation this slot keeps, and its prompt length then. */
  pinnedBy?: string;
  pinnedLength: number;
}

/** One of the contexts a pool's slots live in, with its share of the slots. */
export interface PoolContext {
  context: LlamaContext;
  slots: number;
  /** Lets each slot's cache edits in while the context's other slots generate. */
  edits?: CacheEdits;
}

/**
 * One context sequence per `parallel` slot, spread over one or more contexts that decode side
 * by side. A request gets the free slot whose cached tokens share the longest prefix with its
 * prompt (on a tie, the slot whose context is least busy, then the least recently used), so a
 * conversation's next turn lands where its history is already evaluated. A request that names
 * its session (Claude Code's session id) pins the session's main conversation to its slot, and
 * the session's side requests go elsewhere (see slot-choice.ts). Past the free slots requests
 * wait in order, up to `maxQueue`, then get 529.
 */
export class SlotPool {
  private readonly slots: SlotState[];
  private readonly waiting: { wake: () => void }[] = [];
  private clock = 0;
  private readonly maxQueue: number;

  constructor(contexts: readonly PoolContext[], maxQueue: number) {
    this.maxQueue = maxQueue;
    this.slots = contexts.flatMap(({ context, slots, edits }, index) =>
      Array.from({ length: slots }, () => {
        const sequence = context.getSequence();
        edits?.watch(sequence);
        return { sequence, context: index, busy: false, lastUsed: 0, pinnedLength: 0 };
      }),
    );
  }

  get size(): number {
    return this.slots.length;
  }

  get busy(): number {
    return this.slots.filter((s) => s.busy).length;
  }

  /** Whether every slot outside context `index` is idle (its decodes may then take every core). */
  aloneIn(index: number): boolean {
    return this.slots.every((s) => s.context === index || !s.busy);
  }

  async acquire(tokens: readonly Token[], signal: AbortSignal, session?: string): Promise<Lease> {
    for (;;) {
      signal.throwIfAborted();
      const best = this.bestFree(tokens, session);
      if (best) {
        if (session !== undefined) this.pin(best.slot, session, tokens.length);
        return this.lease(best.slot, best.reused);
      }
      await this.wait(signal);
    }
  }

  /** The session whose main conversation a slot keeps (for tests and the bench). */
  pinOf(index: number): string | undefined {
    return this.slots[index]?.pinnedBy;
  }

  private bestFree(
    tokens: readonly Token[],
    session?: string,
  ): { slot: SlotState; reused: number } | undefined {
    const free = this.slots
      .filter((s) => !s.busy)
      .map((slot) => {
        const shared = slot.sequence.compareContextTokens(tokens as Token[]).firstDifferentIndex;
        return { slot, reused: Math.max(0, Math.min(shared, tokens.length - 1)) };
      });
    if (free.length === 0) return undefined;
    const busyIn = new Map<number, number>();
    for (const s of this.slots) if (s.busy) busyIn.set(s.context, (busyIn.get(s.context) ?? 0) + 1);
    const candidates = free.map(({ slot, reused }) => ({
      reused,
      contextBusy: busyIn.get(slot.context) ?? 0,
      lastUsed: slot.lastUsed,
      pinnedBy: slot.pinnedBy,
      pinnedLength: slot.pinnedLength,
    }));
    return free[chooseSlot(candidates, tokens.length, session)];
  }

  /** A session's longest recent prompt is its main conversation: its slot is pinned to it. */
  private pin(slot: SlotState, session: string, length: number): void {
    const current = this.slots.find((s) => s.pinnedBy === session);
    if (current === slot) {
      if (takesPin(slot.pinnedLength, length)) slot.pinnedLength = length;
      return;
    }
    if (!takesPin(current?.pinnedLength, length)) return;
    if (current) {
      current.pinnedBy = undefined;
      current.pinnedLength = 0;
    }
    slot.pinnedBy = session;
    slot.pinnedLength = length;
  }

  private lease(slot: SlotState, reused: number): Lease {
    slot.busy = true;
    slot.lastUsed = ++this.clock;
    let released = false;
    return {
      slot,
      reused,
      release: () => {
        if (released) return;
        released = true;
        slot.busy = false;
        this.waiting.shift()?.wake();
      },
    };
  }

  private wait(signal: AbortSignal): Promise<void> {
    if (this.waiting.length >= this.maxQueue) {
      throw overloaded(
        `Overloaded: all ${this.slots.length} slots busy and ${this.waiting.length} requests queued`,
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        wake: () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new ApiError(499 as number, "api_error", "Client closed the request"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }
}
