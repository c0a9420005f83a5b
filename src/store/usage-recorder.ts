import type { Insertable, Kysely } from "kysely";
import type { Database, UsageTable } from "./schema.ts";
import type { UsageRecord, UsageRecorder, UsageWriteStats } from "./usage-record.ts";

export interface RecorderLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface BatchOptions {
  /** Longest a record waits in memory before it is written (what a `kill -9` can lose). */
  flushIntervalMs?: number;
  /** Rows per INSERT; a full batch is written at once. */
  maxBatch?: number;
  /** Records held while the database is unreachable; past this the oldest are dropped (and logged). */
  maxBuffered?: number;
  logger?: RecorderLogger;
  /** Writes one batch (default: a multi-row INSERT through Kysely); must ignore rows already written. */
  write?: (rows: UsageRow[]) => Promise<void>;
}

export type UsageRow = Insertable<UsageTable>;

/**
 * Usage records written in batches off the request path: `record` only appends to a buffer; a timer
 * (or a full batch) writes them with one multi-row INSERT. Writes are idempotent by request id, so a
 * batch retried after a failure never counts twice.
 */
export class BatchedUsageRecorder implements UsageRecorder {
  private readonly flushIntervalMs: number;
  private readonly maxBatch: number;
  private readonly maxBuffered: number;
  private readonly logger: RecorderLogger | undefined;
  private readonly write: (rows: UsageRow[]) => Promise<void>;
  private buffer: UsageRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  private failing = false;
  private flushErrors = 0;
  private dropped = 0;
  private droppedThisOutage = 0;

  constructor(db: Kysely<Database>, options: BatchOptions = {}) {
    this.flushIntervalMs = options.flushIntervalMs ?? 500;
    this.maxBatch = options.maxBatch ?? 500;
    this.maxBuffered = options.maxBuffered ?? 100_000;
    this.logger = options.logger;
    this.write = options.write ?? ((rows) => insertUsage(db, rows));
  }

  /** Records waiting to be written. */
  get pending(): number {
    return this.buffer.length;
  }

  stats(): UsageWriteStats {
    return { pending: this.buffer.length, flush_errors: this.flushErrors, dropped: this.dropped };
  }

  record(r: UsageRecord): void {
    this.buffer.push(toRow(r));
    if (this.buffer.length > this.maxBuffered) this.dropOldest();
    if (this.buffer.length >= this.maxBatch) this.schedule(0);
    else this.schedule(this.flushIntervalMs);
  }

  /**
   * The buffer is full (the database has been unreachable for a while): the oldest records go, 1%
   * of the buffer at a time, so a full buffer costs one splice per hundredth of it, not one per
   * request. It is logged once per outage; the recovery line says how many were lost.
   */
  private dropOldest(): void {
    const keep = this.maxBuffered - Math.max(1, Math.floor(this.maxBuffered / 100)) + 1;
    const count = this.buffer.length - keep;
    this.buffer.splice(0, count);
    this.dropped += count;
    if (this.droppedThisOutage === 0)
      this.logger?.error(
        { dropped: count, max_buffered: this.maxBuffered },
        "usage buffer full: dropping the oldest records until the database takes writes again",
      );
    this.droppedThisOutage += count;
  }

  /** Writes everything buffered so far; resolves when it is in the database (or the write failed). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.flushing = this.writeAll().finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
    if (this.buffer.length > 0 && !this.closed) this.schedule(this.flushIntervalMs);
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.buffer.length > 0) {
      this.logger?.error({ lost: this.buffer.length }, "usage records could not be written before shutdown");
    }
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    if (this.timer && delayMs > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs);
    this.timer.unref();
  }

  private async writeAll(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.maxBatch);
      try {
        await this.write(batch);
        if (this.failing)
          this.logger?.warn({ dropped: this.droppedThisOutage }, "usage records are being written again");
        this.failing = false;
        this.droppedThisOutage = 0;
      } catch (err) {
        this.buffer.unshift(...batch);
        this.flushErrors++;
        if (!this.failing)
          this.logger?.error(
            { err, pending: this.buffer.length },
            "writing usage records failed; will retry",
          );
        this.failing = true;
        return;
      }
    }
  }
}

/** One multi-row INSERT that skips rows already written (a retried batch never counts twice). */
export async function insertUsage(db: Kysely<Database>, rows: UsageRow[]): Promise<void> {
  await db
    .insertInto("usage")
    .values(rows)
    .onConflict((oc) => oc.column("request_id").doNothing())
    .execute();
}

function toRow(r: UsageRecord): UsageRow {
  return {
    request_id: r.request_id,
    key_id: r.key_id,
    workspace_id: r.workspace_id,
    model: r.model,
    input_tokens: r.input_tokens,
    output_tokens: r.output_tokens,
    cache_creation_input_tokens: r.cache_creation_input_tokens,
    cache_read_input_tokens: r.cache_read_input_tokens,
    status: r.status,
    error_type: r.error_type,
    streamed: r.streamed ? 1 : 0,
    latency_ms: r.latency_ms,
    ttft_ms: r.ttft_ms,
    started_at: r.started_at.getTime(),
    batch_id: r.batch_id ?? null,
    service_tier: r.service_tier ?? "standard",
  };
}
