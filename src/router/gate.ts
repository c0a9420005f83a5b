import { ApiError, overloaded } from "../protocol/index.ts";

type Release = () => void;

/** How long a peak of interactive load keeps its slots out of background work's reach. */
const PEAK_WINDOW_MS = 2000;

/** A slot held by background (batch) work: `preempted` fires when an interactive request needs it. */
export interface BackgroundSlot {
  release: Release;
  preempted: AbortSignal;
}

interface Waiter {
  grant: (r: Release) => void;
  fail: (e: unknown) => void;
}

/**
 * At most `slots` requests run at once; up to `maxQueue` more wait in order; past that a
 * request gets 529 overloaded_error at once. A waiter whose client leaves drops out of line.
 *
 * Background work (batches) has the lowest priority: it gets a slot only while one is free and
 * no interactive request waits, and an interactive request that finds every slot taken preempts
 * the newest background holder, which aborts within one generation step and gives its slot up.
 */
export class ConcurrencyGate {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  private readonly backgroundWaiting: Waiter[] = [];
  /** Background holders, oldest first, with the controller that preempts each. */
  private readonly background: AbortController[] = [];
  /** The most interactive requests seen running at once lately, and when: slots kept free for them. */
  private interactivePeak = 0;
  private interactivePeakAt = 0;

  readonly slots: number;
  readonly maxQueue: number;

  constructor(slots: number, maxQueue: number) {
    this.slots = slots;
    this.maxQueue = maxQueue;
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Slots held by background work. */
  get backgroundActive(): number {
    return this.background.length;
  }

  /** True when a background request could start now: a slot is free and no interactive one waits. */
  get idle(): boolean {
    return this.running < this.slots && this.waiting.length === 0;
  }

  /**
   * Slots background work may take now: the free ones, less those interactive load used lately
   * (its peak over the last couple of seconds), so steady interactive traffic does not have to
   * preempt batch work on every request; a burst beyond that peak still preempts.
   */
  get backgroundRoom(): number {
    if (!this.idle) return 0;
    const interactive = this.running - this.background.length;
    const recent = performance.now() - this.interactivePeakAt < PEAK_WINDOW_MS ? this.interactivePeak : 0;
    return this.slots - this.background.length - Math.max(interactive, recent);
  }

  acquire(signal?: AbortSignal): Promise<Release> {
    this.notePeak(1);
    if (this.running < this.slots) return Promise.resolve(this.grant());
    if (this.waiting.length >= this.maxQueue) {
      return Promise.reject(
        overloaded(`Overloaded: ${this.running} requests running and ${this.waiting.length} queued`),
      );
    }
    const slot = this.enqueue(this.waiting, signal);
    this.preemptOne();
    return slot;
  }

  /** A slot for background work, granted only when interactive requests leave one free. */
  async acquireBackground(signal?: AbortSignal): Promise<BackgroundSlot> {
    const release = this.idle ? this.grant() : await this.enqueue(this.backgroundWaiting, signal);
    const preempt = new AbortController();
    this.background.push(preempt);
    return {
      preempted: preempt.signal,
      release: () => {
        const i = this.background.indexOf(preempt);
        if (i >= 0) this.background.splice(i, 1);
        release();
      },
    };
  }

  private notePeak(arriving: number): void {
    const now = performance.now();
    const interactive = this.running - this.background.length + this.waiting.length + arriving;
    if (interactive >= this.interactivePeak || now - this.interactivePeakAt > PEAK_WINDOW_MS) {
      this.interactivePeak = interactive;
      this.interactivePeakAt = now;
    }
  }

  /** Interactive requests are waiting: the newest background holder that is still running yields. */
  private preemptOne(): void {
    const pending = this.waiting.length;
    const yielding = this.background.filter((c) => c.signal.aborted).length;
    if (yielding >= pending) return;
    const victim = this.background.findLast((c) => !c.signal.aborted);
    victim?.abort();
  }

  private enqueue(queue: Waiter[], signal?: AbortSignal): Promise<Release> {
    return new Promise<Release>((resolve, reject) => {
      const waiter = {
        grant: (r: Release) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(r);
        },
        fail: reject,
      };
      const onAbort = () => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        reject(new ApiError(499 as number, "api_error", "Client closed the request"));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      queue.push(waiter);
    });
  }

  private grant(): Release {
    this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const next = this.waiting.shift() ?? this.backgroundWaiting.shift();
      if (next) next.grant(this.grant());
    };
  }
}
