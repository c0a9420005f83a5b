import type { LlamaContext, LlamaContextSequence, Token } from "node-llama-cpp";
import { ApiError, overloaded } from "../../protocol/index.ts";

export interface Slot {
  readonly sequence: LlamaContextSequence;
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
}

/**
 * One context sequence per `parallel` slot. A request gets the free slot whose cached
 * tokens share the longest prefix with its prompt (least recently used on a tie), so a
 * conversation's next turn lands where its history is already evaluated. Past the free
 * slots requests wait in order, up to `maxQueue`, then get 529.
 */
export class SlotPool {
  private readonly slots: SlotState[];
  private readonly waiting: { wake: () => void }[] = [];
  private clock = 0;
  private readonly maxQueue: number;

  constructor(context: LlamaContext, count: number, maxQueue: number) {
    this.maxQueue = maxQueue;
    this.slots = Array.from({ length: count }, () => ({
      sequence: context.getSequence(),
      busy: false,
      lastUsed: 0,
    }));
  }

  get size(): number {
    return this.slots.length;
  }

  get busy(): number {
    return this.slots.filter((s) => s.busy).length;
  }

  async acquire(tokens: readonly Token[], signal: AbortSignal): Promise<Lease> {
    for (;;) {
      signal.throwIfAborted();
      const best = this.bestFree(tokens);
      if (best) return this.lease(best.slot, best.reused);
      await this.wait(signal);
    }
  }

  private bestFree(tokens: readonly Token[]): { slot: SlotState; reused: number } | undefined {
    let best: { slot: SlotState; reused: number } | undefined;
    for (const slot of this.slots) {
      if (slot.busy) continue;
      const shared = slot.sequence.compareContextTokens(tokens as Token[]).firstDifferentIndex;
      const reused = Math.max(0, Math.min(shared, tokens.length - 1));
      if (!best || reused > best.reused || (reused === best.reused && slot.lastUsed < best.slot.lastUsed)) {
        best = { slot, reused };
      }
    }
    return best;
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
