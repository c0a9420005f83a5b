import type { ProviderLogger, UpstreamHealth } from "../provider.ts";
import { type BreakerOptions, CircuitBreaker } from "./breaker.ts";
import { errorForStatus, exhaustedError, scrub, UpstreamFailure } from "./errors.ts";
import { type Timeouts, Upstream, type UpstreamCall, type UpstreamReply } from "./upstream.ts";

export interface PoolOptions {
  model: string;
  timeouts: Timeouts;
  breaker: Omit<BreakerOptions, "now">;
  logger: ProviderLogger;
  /** Strings never to show anyone: the upstream key and header values. */
  secrets: string[];
  now?: () => number;
}

/** Attempts per request across all upstreams (resets are retried; other failures move on). */
const MAX_ATTEMPTS = 4;

export interface CallContext {
  signal: AbortSignal;
  requestId: string;
}

/**
 * The upstreams of one model. Each request goes to the healthy, non-ejected upstream with the
 * fewest requests in flight; connection failures, timeouts, 429 and 5xx move it to the next
 * upstream, but only before anything was committed to the client.
 */
export class UpstreamPool {
  readonly upstreams: Upstream[];
  private readonly options: PoolOptions;
  private turn = 0;
  private healthTimer: NodeJS.Timeout | undefined;
  /** Per upstream: attempts retried on it, and failed attempts that moved on to another (metrics). */
  private readonly moves = new Map<Upstream, { retries: number; failovers: number }>();

  constructor(baseUrls: string[], options: PoolOptions) {
    this.options = options;
    this.upstreams = baseUrls.map(
      (u) => new Upstream(u, options.timeouts, new CircuitBreaker({ ...options.breaker, now: options.now })),
    );
  }

  /** Least outstanding requests among the eligible; ties go round-robin. */
  pick(tried: ReadonlySet<Upstream>): Upstream | undefined {
    const open = this.upstreams.filter((u) => !tried.has(u) && u.breaker.canTry());
    const healthy = open.filter((u) => u.healthy);
    const candidates = healthy.length > 0 ? healthy : open;
    if (candidates.length === 0) return undefined;
    const least = Math.min(...candidates.map((u) => u.outstanding));
    const tied = candidates.filter((u) => u.outstanding === least);
    return tied[this.turn++ % tied.length];
  }

  /**
   * Sends `call` (built per upstream) until one upstream commits; throws the client's ApiError
   * otherwise. Each upstream is tried once, except that a connection reset (nothing was sent to
   * the client yet) may be retried on any upstream, the same one included, up to MAX_ATTEMPTS.
   */
  async send(build: (u: Upstream) => UpstreamCall, ctx: CallContext): Promise<UpstreamReply> {
    const tried = new Set<Upstream>();
    const failures: UpstreamFailure[] = [];
    let failed: Upstream | undefined;
    for (
      let u = this.pick(tried);
      u && failures.length < Math.max(MAX_ATTEMPTS, this.upstreams.length);
      u = this.next(tried, failures)
    ) {
      if (failed) this.countMove(failed, u);
      tried.add(u);
      try {
        return await u.open(build(u), ctx.signal);
      } catch (err) {
        if (!(err instanceof UpstreamFailure)) throw err;
        this.log(u, err, ctx);
        if (!err.retryable) {
          const message = scrub(err.upstreamMessage ?? "", this.options.secrets);
          throw errorForStatus(err.status ?? 500, message, err.retryAfterMs, this.options.model);
        }
        failures.push(err);
        failed = u;
      }
    }
    throw exhaustedError(failures, this.options.model, this.retryInMs());
  }

  /** The next upstream to try: an untried one, or after a reset any usable one. */
  private next(tried: Set<Upstream>, failures: readonly UpstreamFailure[]): Upstream | undefined {
    const fresh = this.pick(tried);
    if (fresh || failures.at(-1)?.kind !== "network") return fresh;
    return this.pick(new Set());
  }

  /** Polls every upstream; a failing probe takes it out of rotation until one succeeds. */
  startHealthChecks(intervalMs: number, probe: (u: Upstream) => UpstreamCall): void {
    if (intervalMs <= 0 || this.healthTimer) return;
    const run = () => {
      for (const u of this.upstreams) {
        void u.probe(probe(u), Math.min(intervalMs, this.options.timeouts.firstByteMs)).then((ok) => {
          if (ok !== u.healthy)
            this.options.logger[ok ? "info" : "warn"](
              { model: this.options.model, upstream: u.label },
              ok ? "upstream healthy again" : "upstream failed its health check",
            );
          u.healthy = ok;
        });
      }
    };
    this.healthTimer = setInterval(run, intervalMs);
    this.healthTimer.unref();
  }

  /** Available when some upstream is healthy and not ejected. */
  status(): { available: boolean; reason?: string; upstreams: UpstreamHealth[] } {
    const upstreams = this.upstreams.map((u) => ({
      url: u.label,
      healthy: u.healthy,
      breaker: u.breaker.state,
      in_flight: u.outstanding,
      retry_in_ms: u.breaker.retryInMs,
      retries: this.moves.get(u)?.retries ?? 0,
      failovers: this.moves.get(u)?.failovers ?? 0,
    }));
    const usable = this.upstreams.filter((u) => u.healthy && u.breaker.state !== "open");
    if (usable.length > 0) return { available: true, upstreams };
    const list = this.upstreams
      .map(
        (u) =>
          `${u.label} (${u.healthy ? `ejected for ${Math.ceil(u.breaker.retryInMs / 1000)} s` : "failing health checks"})`,
      )
      .join(", ");
    return { available: false, reason: `no upstream is usable: ${list}`, upstreams };
  }

  async close(): Promise<void> {
    clearInterval(this.healthTimer);
    this.healthTimer = undefined;
    await Promise.allSettled(this.upstreams.map((u) => u.close()));
  }

  /** A failed attempt on `from` went on to `to`: a retry when it is the same upstream, else a failover. */
  private countMove(from: Upstream, to: Upstream): void {
    const m = this.moves.get(from) ?? { retries: 0, failovers: 0 };
    this.moves.set(from, m);
    if (from === to) m.retries++;
    else m.failovers++;
  }

  private retryInMs(): number | undefined {
    const waits = this.upstreams.map((u) => u.breaker.retryInMs).filter((ms) => ms > 0);
    return waits.length ? Math.min(...waits) : undefined;
  }

  private log(u: Upstream, err: UpstreamFailure, ctx: CallContext): void {
    const secrets = this.options.secrets;
    this.options.logger.warn(
      {
        model: this.options.model,
        upstream: u.label,
        requestId: ctx.requestId,
        kind: err.kind,
        status: err.status,
        error: scrub(err.message, secrets),
        upstreamMessage: err.upstreamMessage && scrub(err.upstreamMessage, secrets),
        retry: err.retryable,
        ejectedForMs: u.breaker.retryInMs,
      },
      "upstream attempt failed",
    );
  }
}
