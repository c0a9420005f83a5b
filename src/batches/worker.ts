import { randomBytes } from "node:crypto";
import type { Principal } from "../auth/index.ts";
import {
  type ApiError,
  type MessageCreateParams,
  newRequestId,
  type RequestContext,
  toApiError,
} from "../protocol/index.ts";
import type { ProviderLogger } from "../providers/index.ts";
import type { ModelCatalog, ModelEntry } from "../router/index.ts";
import { type MessageService, PreemptedError } from "../service/index.ts";
import type { Clock } from "./clock.ts";
import { relayedChannel } from "./reply-channel.ts";
import type { BatchRepository, ClaimedRequest, EndedState } from "./repository.ts";

export interface BatchWorkerOptions {
  poll_interval_ms: number;
  lease_ms: number;
  retention_days: number;
  max_attempts: number;
}

export interface BatchWorkerDeps {
  repo: BatchRepository;
  messages: MessageService;
  catalog: ModelCatalog;
  clock: Clock;
  options: BatchWorkerOptions;
  logger: ProviderLogger;
  /** More periodic clean-up run with the sweep (expired files). */
  housekeeping?: () => Promise<void>;
}

type StopReason = "canceled" | "expired" | "shutdown";

interface Running {
  batchId: string;
  entry: ModelEntry;
  abort: AbortController;
  reason?: StopReason;
  done: Promise<void>;
}

/** How often an instance with nothing to do looks for batches other instances created. */
const IDLE_POLL_MS = 1000;

/** Batch requests run at once on a model whose gate has no slot limit (the mock, most upstreams). */
const UNBOUNDED_MODEL_BATCH_PARALLEL = 4;

/**
 * Runs batch requests through the message service in the capacity interactive traffic leaves:
 * per model it claims work only while the model's gate is idle (a slot free, no interactive
 * request waiting), up to the model's `batch_parallel`; the gate preempts batch work when
 * interactive requests arrive, and the preempted request goes back to the queue.
 */
export class BatchWorker {
  /** This instance's name on its leases. */
  readonly owner = `inst_${randomBytes(8).toString("hex")}`;
  private readonly deps: BatchWorkerDeps;
  private readonly running = new Map<string, Running>();
  private readonly principals = new Map<string, Principal>();
  /** Batches this instance ran requests of, to end them once nothing is left. */
  private readonly touched = new Set<string>();
  private timers: NodeJS.Timeout[] = [];
  private ticking: Promise<void> | undefined;
  private stopping = false;
  /** When the last pass found nothing to claim anywhere: polls slow down to one a second until woken. */
  private idleSince: number | undefined;
  /** Requests this worker started, and how many of them gave their slot up to interactive load. */
  started = 0;
  preemptions = 0;
  /** Requests this worker ended, by result type (metrics). */
  readonly results: Partial<Record<EndedState, number>> = {};

  constructor(deps: BatchWorkerDeps) {
    this.deps = deps;
  }

  start(): void {
    const { poll_interval_ms, lease_ms } = this.deps.options;
    const every = (ms: number, run: () => Promise<unknown>) => {
      const t = setInterval(() => {
        run().catch((err) => this.deps.logger.error({ err }, "batch worker step failed"));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(poll_interval_ms, () => this.tick());
    every(Math.max(50, Math.floor(lease_ms / 3)), () => this.heartbeat());
    every(Math.max(poll_interval_ms * 8, 1000), () => this.sweep());
    this.wake();
  }

  /** Looks for work now (after a batch is created or canceled). */
  wake(): void {
    this.idleSince = undefined;
    setImmediate(() => {
      this.tick().catch((err) => this.deps.logger.error({ err }, "batch worker step failed"));
    });
  }

  /** Stops claiming, gives running requests back to the queue (not counted as attempts), waits for them. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.ticking;
    for (const r of this.running.values()) this.halt(r, "shutdown");
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** Expiry, ending and archiving; any instance may run it at any time. */
  async sweep(): Promise<void> {
    const retentionMs = this.deps.options.retention_days * 86_400_000;
    await this.deps.repo.sweep(this.deps.clock.now(), retentionMs);
    await this.deps.housekeeping?.();
  }

  /** One scheduling pass: claims work for every model with idle capacity. */
  tick(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (this.idleSince !== undefined && performance.now() - this.idleSince < IDLE_POLL_MS) {
      return Promise.resolve();
    }
    this.ticking ??= this.claimAll().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async claimAll(): Promise<void> {
    let idleEverywhere = true;
    for (const entry of this.deps.catalog.entries) {
      const room = this.room(entry);
      if (room <= 0) {
        idleEverywhere = false;
        continue;
      }
      const claimed = await this.deps.repo.claim({
        model: entry.config.id,
        owner: this.owner,
        limit: room,
        now: this.deps.clock.now(),
        leaseMs: this.deps.options.lease_ms,
      });
      if (claimed.length > 0) idleEverywhere = false;
      for (const c of claimed) this.launch(c, entry);
    }
    if (idleEverywhere) {
      await this.endTouched();
      if (this.running.size === 0) this.idleSince = performance.now();
    } else {
      this.idleSince = undefined;
    }
  }

  /** How many more batch requests this model can take now. */
  private room(entry: ModelEntry): number {
    const gate = entry.gate;
    const free = gate.backgroundRoom;
    if (free <= 0) return 0;
    const limit =
      entry.config.batch_parallel ??
      (Number.isFinite(gate.slots) ? gate.slots : UNBOUNDED_MODEL_BATCH_PARALLEL);
    const mine = [...this.running.values()].filter((r) => r.entry === entry).length;
    return Math.min(limit - mine, free);
  }

  private launch(c: ClaimedRequest, entry: ModelEntry): void {
    const key = `${c.batch_id}/${c.idx}`;
    const abort = new AbortController();
    const running: Running = { batchId: c.batch_id, entry, abort, done: Promise.resolve() };
    this.running.set(key, running);
    this.touched.add(c.batch_id);
    running.done = this.runOne(c, running)
      .catch((err) => this.deps.logger.error({ err, batch: c.batch_id, idx: c.idx }, "batch request failed"))
      .finally(() => {
        this.running.delete(key);
        // A slot just came free: look for the next request at once.
        if (!this.stopping) this.wake();
      });
  }

  private halt(r: Running, reason: StopReason): void {
    r.reason ??= reason;
    r.abort.abort();
  }

  private async runOne(c: ClaimedRequest, running: Running): Promise<void> {
    const { repo } = this.deps;
    const key = { batch_id: c.batch_id, idx: c.idx };
    const principal = await this.principalOf(c.batch_id);
    if (!principal) return void (await this.complete(key, "canceled", { type: "canceled" }));
    const requestId = newRequestId();
    const now = this.deps.clock.now();
    // The same admission an HTTP request passes in the server's hooks: rate limits and budgets.
    try {
      await this.deps.messages.admit(principal);
    } catch (err) {
      const e = toApiError(err);
      const wait = Number(e.headers["retry-after"] ?? 0) * 1000;
      const expiresAt = this.expiries.get(c.batch_id) ?? Number.POSITIVE_INFINITY;
      // A limit that frees up before the batch expires: wait for it. A spent budget: fail the request.
      if (e.status === 429 && wait > 0 && now + wait < expiresAt) {
        return repo.requeue(key, this.owner, now + wait, false);
      }
      await this.complete(key, "errored", erroredResult(e, requestId));
      return;
    }
    let ended: { state: EndedState; result: object };
    try {
      const prepared = this.deps.messages.prepare(
        { ...(c.params as MessageCreateParams), stream: false },
        c.context as RequestContext,
        principal,
      );
      const channel = relayedChannel();
      this.started++;
      const outcome = await this.deps.messages.run(
        prepared,
        { requestId, signal: running.abort.signal, log: this.deps.logger, batch: { id: c.batch_id } },
        channel,
      );
      ended = outcome.message
        ? { state: "succeeded", result: { type: "succeeded", message: outcome.message } }
        : channel.result(outcome.status, requestId);
    } catch (err) {
      if (running.reason === "shutdown") return repo.requeue(key, this.owner, 0, false);
      if (running.reason) {
        ended = { state: running.reason, result: { type: running.reason } };
      } else {
        const e = toApiError(err);
        if (e instanceof PreemptedError) {
          this.preemptions++;
          return repo.requeue(key, this.owner, now, false);
        }
        const retry = this.retryAt(e, c);
        if (retry !== undefined) return repo.requeue(key, this.owner, retry, true);
        ended = { state: "errored", result: erroredResult(e, requestId) };
      }
    }
    if (running.reason === "canceled" || running.reason === "expired") {
      ended = { state: running.reason, result: { type: running.reason } };
    }
    await this.complete(key, ended.state, ended.result);
  }

  /** Writes a request's result; counted when this instance still held it. */
  private async complete(key: { batch_id: string; idx: number }, state: EndedState, result: object) {
    if (await this.deps.repo.complete(key, this.owner, state, result))
      this.results[state] = (this.results[state] ?? 0) + 1;
  }

  /** An overloaded or rate-limited backend is tried again with backoff, up to `max_attempts`. */
  private retryAt(e: ApiError, c: ClaimedRequest): number | undefined {
    if ((e.status === 529 || e.status === 429) && c.attempts < this.deps.options.max_attempts) {
      return this.deps.clock.now() + Math.min(30_000, 250 * 2 ** c.attempts);
    }
    return undefined;
  }

  private readonly expiries = new Map<string, number>();

  private async principalOf(batchId: string): Promise<Principal | undefined> {
    const known = this.principals.get(batchId);
    if (known) return known;
    const batch = await this.deps.repo.get(batchId, "all");
    if (!batch) return undefined;
    this.principals.set(batchId, batch.principal);
    this.expiries.set(batchId, batch.expires_at);
    return batch.principal;
  }

  /** Renews this instance's leases and stops requests whose batch was canceled, expired or deleted. */
  async heartbeat(): Promise<void> {
    if (this.running.size === 0) return;
    const now = this.deps.clock.now();
    await this.deps.repo.heartbeat(this.owner, now + this.deps.options.lease_ms);
    const ids = [...new Set([...this.running.values()].map((r) => r.batchId))];
    const stopped = await this.deps.repo.stopped(ids, now);
    for (const r of this.running.values()) {
      const reason = stopped.get(r.batchId);
      if (reason) this.halt(r, reason);
    }
  }

  /** Ends the batches this instance worked on once none of their requests is left anywhere. */
  private async endTouched(): Promise<void> {
    const busy = new Set([...this.running.values()].map((r) => r.batchId));
    for (const id of this.touched) {
      if (busy.has(id)) continue;
      await this.deps.repo.endIfDone(id, this.deps.clock.now());
      this.touched.delete(id);
      this.principals.delete(id);
      this.expiries.delete(id);
    }
  }
}

/** An `errored` result: the error envelope the request would have got over HTTP. */
export function erroredResult(e: ApiError, requestId: string): object {
  return {
    type: "errored",
    error: { type: "error", error: { type: e.type, message: e.message }, request_id: requestId },
  };
}
