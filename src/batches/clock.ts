/** Where batches read the time: expiry (24 h) and archiving (29 days) are tested by moving it. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that stands still until moved: for tests and for replaying a schedule. */
export class ManualClock implements Clock {
  private ms: number;

  constructor(start = Date.now()) {
    this.ms = start;
  }

  now(): number {
    return this.ms;
  }

  advance(ms: number): void {
    this.ms += ms;
  }
}
