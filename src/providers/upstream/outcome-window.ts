/** The window never holds more outcomes than this: bounded memory under heavy load. */
const CAPACITY = 512;

/**
 * The recent outcomes of an upstream (time, failed) and how many of them failed, in a ring:
 * recording one is O(1) and allocates nothing. (It was an array of pairs, spliced at its front on
 * every request once full: a copy of 511 entries per request at a few thousand requests a second.)
 */
export class OutcomeWindow {
  private readonly times = new Float64Array(CAPACITY);
  private readonly failures = new Uint8Array(CAPACITY);
  /** Index of the oldest outcome. */
  private head = 0;
  private count = 0;
  private failedCount = 0;
  private readonly spanMs: number;

  constructor(spanMs: number) {
    this.spanMs = spanMs;
  }

  get size(): number {
    return this.count;
  }

  get failed(): number {
    return this.failedCount;
  }

  /** Records an outcome at `now`, dropping those older than the span (and the oldest when full). */
  add(now: number, failed: boolean): void {
    const since = now - this.spanMs;
    while (this.count > 0 && this.times[this.head] < since) this.dropOldest();
    if (this.count === CAPACITY) this.dropOldest();
    const at = (this.head + this.count) % CAPACITY;
    this.times[at] = now;
    this.failures[at] = failed ? 1 : 0;
    this.count++;
    if (failed) this.failedCount++;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
    this.failedCount = 0;
  }

  private dropOldest(): void {
    this.failedCount -= this.failures[this.head];
    this.head = (this.head + 1) % CAPACITY;
    this.count--;
  }
}
