import { OutcomeWindow } from "./outcome-window.ts";

export interface BreakerOptions {
  /** First ejection length; each further ejection in a row doubles it. */
  baseMs: number;
  maxMs: number;
  /** Outcomes older than this no longer count toward the failure rate. */
  windowMs?: number;
  /** Failures in a row that eject at once. */
  consecutive?: number;
  /** Failure rate in the window that ejects, once the window holds `minSamples` outcomes. */
  failureRate?: number;
  minSamples?: number;
  now?: () => number;
}

export type BreakerState = "closed" | "open" | "half_open";

/**
 * Defaults: an upstream that is down (every attempt fails) leaves after 5 attempts; one that drops
 * a third of its connections stays in (a 60 % rate over 20 outcomes is very unlikely at 30 %).
 */
const DEFAULTS = { windowMs: 10_000, consecutive: 5, failureRate: 0.6, minSamples: 20 };

/**
 * Ejects a failing upstream, not an unlucky one: it trips on `consecutive` failures in a row, or
 * on a failure rate of `failureRate` over the last `windowMs` (with at least `minSamples`
 * outcomes), or at once when the upstream asked for a pause (retry-after). After the back-off
 * one trial request may pass (half-open); its success closes the breaker, its failure ejects
 * again for twice as long.
 */
export class CircuitBreaker {
  private failures = 0;
  private ejections = 0;
  private tripped = false;
  private openUntil = 0;
  private trialInFlight = false;
  private readonly window: OutcomeWindow;
  private readonly options: Required<BreakerOptions>;

  constructor(options: BreakerOptions) {
    this.options = { ...DEFAULTS, ...options, now: options.now ?? Date.now };
    this.window = new OutcomeWindow(this.options.windowMs);
  }

  get state(): BreakerState {
    if (!this.tripped) return "closed";
    return this.options.now() < this.openUntil ? "open" : "half_open";
  }

  /** Milliseconds until the breaker lets a request through again (0 if it does now). */
  get retryInMs(): number {
    return this.tripped ? Math.max(0, this.openUntil - this.options.now()) : 0;
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
    this.trialInFlight = false;
    if (this.tripped) {
      this.tripped = false;
      this.ejections = 0;
      this.openUntil = 0;
      this.window.clear();
      return;
    }
    this.remember(false);
  }

  /** A request that ended without a verdict (client left): frees the half-open trial. */
  onCancel(): void {
    this.trialInFlight = false;
  }

  /** `atLeastMs`: the upstream asked for a pause (retry-after): eject for no less than this. */
  onFailure(atLeastMs = 0): void {
    this.failures++;
    this.remember(true);
    const wasTrial = this.trialInFlight || this.state === "half_open";
    this.trialInFlight = false;
    if (atLeastMs > 0 || wasTrial || this.failures >= this.options.consecutive || this.rateExceeded())
      this.eject(atLeastMs);
  }

  private eject(atLeastMs: number): void {
    this.ejections++;
    this.tripped = true;
    const backoff = Math.min(this.options.maxMs, this.options.baseMs * 2 ** (this.ejections - 1));
    this.openUntil = this.options.now() + Math.max(backoff, atLeastMs);
  }

  private remember(failed: boolean): void {
    this.window.add(this.options.now(), failed);
  }

  private rateExceeded(): boolean {
    if (this.window.size < this.options.minSamples) return false;
    return this.window.failed / this.window.size >= this.options.failureRate;
  }
}
