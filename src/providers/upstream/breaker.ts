export interface BreakerOptions {
  /** First ejection length; each further consecutive failure doubles it. */
  baseMs: number;
  maxMs: number;
  now?: () => number;
}

export type BreakerState = "closed" | "open" | "half_open";

/**
 * Ejects a failing upstream for a growing back-off. After the back-off one trial request
 * may pass (half-open); its success closes the breaker, its failure doubles the back-off.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private trialInFlight = false;
  private readonly options: Required<BreakerOptions>;

  constructor(options: BreakerOptions) {
    this.options = { ...options, now: options.now ?? Date.now };
  }

  get state(): BreakerState {
    if (this.failures === 0) return "closed";
    return this.options.now() < this.openUntil ? "open" : "half_open";
  }

  /** Milliseconds until the breaker lets a request through again (0 if it does now). */
  get retryInMs(): number {
    return Math.max(0, this.openUntil - this.options.now());
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Whether a request may go to this upstream now; in half-open only one at a time. */
  canTry(): boolean {
    const state = this.state;
    if (state === "closed") return true;
    return state === "half_open" && !this.trialInFlight;
  }

  /** Call when a request is sent; marks the half-open trial as taken. */
  onAttempt(): void {
    if (this.state === "half_open") this.trialInFlight = true;
  }

  onSuccess(): void {
    this.failures = 0;
    this.openUntil = 0;
    this.trialInFlight = false;
  }

  /** A request that ended without a verdict (client left): frees the half-open trial. */
  onCancel(): void {
    this.trialInFlight = false;
  }

  /** `atLeastMs`: eject for no less than this (e.g. an upstream's retry-after). */
  onFailure(atLeastMs = 0): void {
    this.failures++;
    this.trialInFlight = false;
    const backoff = Math.min(this.options.maxMs, this.options.baseMs * 2 ** (this.failures - 1));
    this.openUntil = this.options.now() + Math.max(backoff, atLeastMs);
  }
}
