import { ApiError, overloaded } from "../protocol/index.ts";

type Release = () => void;

/**
 * At most `slots` requests run at once; up to `maxQueue` more wait in order; past that a
 * request gets 529 overloaded_error at once. A waiter whose client leaves drops out of line.
 */
export class ConcurrencyGate {
  private running = 0;
  private readonly waiting: { grant: (r: Release) => void; fail: (e: unknown) => void }[] = [];

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

  acquire(signal?: AbortSignal): Promise<Release> {
    if (this.running < this.slots) return Promise.resolve(this.grant());
    if (this.waiting.length >= this.maxQueue) {
      return Promise.reject(
        overloaded(`Overloaded: ${this.running} requests running and ${this.waiting.length} queued`),
      );
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter = {
        grant: (r: Release) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(r);
        },
        fail: reject,
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new ApiError(499 as number, "api_error", "Client closed the request"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private grant(): Release {
    this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const next = this.waiting.shift();
      if (next) next.grant(this.grant());
    };
  }
}
