import { type Kysely, type Selectable, sql } from "kysely";
import type { Principal } from "../auth/index.ts";
import type { RequestContext } from "../protocol/index.ts";
import {
  type BatchRequestState,
  type Database,
  type Dialect,
  keysetPage,
  type MessageBatchTable,
  newId,
  type Page,
  type PageParams,
} from "../store/index.ts";

export type ProcessingStatus = MessageBatchTable["processing_status"];

/** Where a request ended, as its results line says. */
export type EndedState = Exclude<BatchRequestState, "pending" | "running">;

export interface Batch {
  id: string;
  workspace_id: string | null;
  key_id: string;
  principal: Principal;
  processing_status: ProcessingStatus;
  request_count: number;
  counts: Record<EndedState, number>;
  created_at: number;
  expires_at: number;
  ended_at: number | null;
  cancel_initiated_at: number | null;
  archived_at: number | null;
}

export interface NewBatchRequest {
  custom_id: string;
  /** Catalogue id of the model it names. */
  model: string;
  params: object;
  context: RequestContext;
}

/** A request this instance now holds a lease on. */
export interface ClaimedRequest {
  batch_id: string;
  idx: number;
  custom_id: string;
  params: object;
  context: RequestContext;
  attempts: number;
}

/** Who may see a batch: a workspace (null = the default one), or anyone (the CLI). */
export type Visibility = { workspaceId: string | null } | "all";

const OPEN = ["pending", "running"] as const;
const INSERT_CHUNK = 200;

/**
 * Batches and their requests in the store. Work is handed out by row claims: a claim marks
 * requests `running` under this instance's name with a lease; a live instance renews its leases,
 * a dead one's run out and the requests are claimed again. Every change to a claimed request
 * names its owner, so an instance that lost its lease cannot overwrite another's result.
 */
export class BatchRepository {
  private readonly db: Kysely<Database>;
  private readonly dialect: Dialect;

  constructor(db: Kysely<Database>, dialect: Dialect) {
    this.db = db;
    this.dialect = dialect;
  }

  async create(input: {
    principal: Principal;
    requests: NewBatchRequest[];
    now: number;
    expiresAt: number;
  }): Promise<Batch> {
    const id = newId("msgbatch");
    const row = {
      id,
      workspace_id: input.principal.workspaceId ?? null,
      key_id: input.principal.keyId,
      principal: JSON.stringify(input.principal),
      processing_status: "in_progress" as const,
      request_count: input.requests.length,
      succeeded: 0,
      errored: 0,
      canceled: 0,
      expired: 0,
      created_at: input.now,
      expires_at: input.expiresAt,
      ended_at: null,
      cancel_initiated_at: null,
      archived_at: null,
    };
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto("message_batches").values(row).execute();
      for (let i = 0; i < input.requests.length; i += INSERT_CHUNK) {
        const rows = input.requests.slice(i, i + INSERT_CHUNK).map((r, j) => ({
          batch_id: id,
          idx: i + j,
          custom_id: r.custom_id,
          model: r.model,
          params: JSON.stringify(r.params),
          context: JSON.stringify(r.context),
          state: "pending" as const,
          result: null,
          lease_owner: null,
          lease_until: null,
          not_before: 0,
          attempts: 0,
        }));
        await tx.insertInto("batch_requests").values(rows).execute();
      }
    });
    return toBatch(row);
  }

  async get(id: string, who: Visibility): Promise<Batch | undefined> {
    let q = this.db.selectFrom("message_batches").selectAll().where("id", "=", id);
    if (who !== "all") q = q.where(sameWorkspace(who.workspaceId));
    const row = await q.executeTakeFirst();
    return row && toBatch(row);
  }

  /** Newest first, with `after_id` / `before_id` cursors. */
  async list(who: Visibility, params: PageParams): Promise<Page<Batch>> {
    let q = this.db.selectFrom("message_batches").selectAll();
    if (who !== "all") q = q.where(sameWorkspace(who.workspaceId));
    return keysetPage(q, params, (id) => this.get(id, who), toBatch);
  }

  /** Stops a batch: requests not started are canceled now; running ones are stopped by their owners. */
  async cancel(id: string, now: number): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const changed = await tx
        .updateTable("message_batches")
        .set({ processing_status: "canceling", cancel_initiated_at: now })
        .where("id", "=", id)
        .where("processing_status", "=", "in_progress")
        .executeTakeFirst();
      if (Number(changed.numUpdatedRows) === 0) return;
      await tx
        .updateTable("batch_requests")
        .set({ state: "canceled", result: JSON.stringify({ type: "canceled" }), lease_owner: null })
        .where("batch_id", "=", id)
        .where("state", "=", "pending")
        .execute();
    });
    await this.endIfDone(id, now);
  }

  async delete(id: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom("batch_requests").where("batch_id", "=", id).execute();
      await tx.deleteFrom("message_batches").where("id", "=", id).execute();
    });
  }

  /**
   * Claims up to `limit` runnable requests for a model: pending ones, and running ones whose lease
   * ran out (their instance died). One statement, so two instances never claim the same row:
   * PostgreSQL skips rows another claim has locked; SQLite runs one writer at a time.
   */
  async claim(input: {
    model: string;
    owner: string;
    limit: number;
    now: number;
    leaseMs: number;
  }): Promise<ClaimedRequest[]> {
    const { model, owner, limit, now } = input;
    const until = now + input.leaseMs;
    const runnable = sql`r.model = ${model} and r.not_before <= ${now}
      and (r.state = 'pending' or (r.state = 'running' and r.lease_until < ${now}))
      and b.processing_status = 'in_progress' and b.expires_at > ${now}`;
    const picked =
      this.dialect === "postgres"
        ? sql`(batch_id, idx) in (select r.batch_id, r.idx from batch_requests r
            join message_batches b on b.id = r.batch_id where ${runnable}
            limit ${limit} for update of r skip locked)`
        : sql`rowid in (select r.rowid from batch_requests r
            join message_batches b on b.id = r.batch_id where ${runnable} limit ${limit})`;
    const result = await sql<{
      batch_id: string;
      idx: number | string;
      custom_id: string;
      params: string;
      context: string;
      attempts: number | string;
    }>`update batch_requests set state = 'running', lease_owner = ${owner}, lease_until = ${until},
        attempts = attempts + 1
      where ${picked}
      returning batch_id, idx, custom_id, params, context, attempts`.execute(this.db);
    return result.rows.map((r) => ({
      batch_id: r.batch_id,
      idx: Number(r.idx),
      custom_id: r.custom_id,
      params: JSON.parse(r.params),
      context: JSON.parse(r.context),
      attempts: Number(r.attempts),
    }));
  }

  /** Renews every lease this instance holds. */
  async heartbeat(owner: string, until: number): Promise<void> {
    await this.db
      .updateTable("batch_requests")
      .set({ lease_until: until })
      .where("lease_owner", "=", owner)
      .where("state", "=", "running")
      .execute();
  }

  /** Batches among `ids` that no longer run (canceled, expired, ended, deleted): stop their requests. */
  async stopped(ids: string[], now: number): Promise<Map<string, "canceled" | "expired">> {
    const stopped = new Map<string, "canceled" | "expired">();
    if (ids.length === 0) return stopped;
    const rows = await this.db
      .selectFrom("message_batches")
      .select(["id", "processing_status", "expires_at"])
      .where("id", "in", ids)
      .execute();
    const live = new Set<string>();
    for (const r of rows) {
      if (r.processing_status === "in_progress" && Number(r.expires_at) > now) live.add(r.id);
      else if (Number(r.expires_at) <= now && r.processing_status !== "canceling")
        stopped.set(r.id, "expired");
      else stopped.set(r.id, "canceled");
    }
    for (const id of ids) if (!live.has(id) && !stopped.has(id)) stopped.set(id, "canceled");
    return stopped;
  }

  /** Writes a request's result if this instance still holds it; false when the claim was lost. */
  async complete(
    key: { batch_id: string; idx: number },
    owner: string,
    state: EndedState,
    result: object,
  ): Promise<boolean> {
    const r = await this.db
      .updateTable("batch_requests")
      .set({ state, result: JSON.stringify(result), lease_owner: null, lease_until: null })
      .where("batch_id", "=", key.batch_id)
      .where("idx", "=", key.idx)
      .where("lease_owner", "=", owner)
      .where("state", "=", "running")
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Gives a claimed request back to run later (preempted, rate limited, shutting down). */
  async requeue(
    key: { batch_id: string; idx: number },
    owner: string,
    notBefore: number,
    countAttempt: boolean,
  ): Promise<void> {
    await this.db
      .updateTable("batch_requests")
      .set({
        state: "pending",
        lease_owner: null,
        lease_until: null,
        not_before: notBefore,
        ...(countAttempt ? {} : { attempts: sql`attempts - 1` }),
      })
      .where("batch_id", "=", key.batch_id)
      .where("idx", "=", key.idx)
      .where("lease_owner", "=", owner)
      .where("state", "=", "running")
      .execute();
  }

  /** Ends a batch whose requests have all ended, writing the final counts (idempotent). */
  async endIfDone(id: string, now: number): Promise<boolean> {
    const counts = await this.states(id);
    const n = (s: BatchRequestState) => counts[s] ?? 0;
    if (OPEN.some((s) => n(s) > 0)) return false;
    const r = await this.db
      .updateTable("message_batches")
      .set({
        processing_status: "ended",
        ended_at: now,
        succeeded: n("succeeded"),
        errored: n("errored"),
        canceled: n("canceled"),
        expired: n("expired"),
      })
      .where("id", "=", id)
      .where("processing_status", "!=", "ended")
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * Housekeeping any instance may run: expires batches past `expires_at` (requests not started,
   * or whose owner died, become `expired`), ends batches with nothing left to run, and archives
   * ended batches after the retention period (their results are deleted).
   */
  async sweep(now: number, retentionMs: number): Promise<void> {
    const open = await this.db
      .selectFrom("message_batches")
      .select(["id", "expires_at"])
      .where("processing_status", "!=", "ended")
      .execute();
    for (const b of open) {
      if (Number(b.expires_at) <= now) {
        await this.db
          .updateTable("batch_requests")
          .set({ state: "expired", result: JSON.stringify({ type: "expired" }), lease_owner: null })
          .where("batch_id", "=", b.id)
          .where((eb) =>
            eb.or([
              eb("state", "=", "pending"),
              eb.and([eb("state", "=", "running"), eb("lease_until", "<", now)]),
            ]),
          )
          .execute();
      }
      await this.endIfDone(b.id, now);
    }
    const old = await this.db
      .selectFrom("message_batches")
      .select("id")
      .where("processing_status", "=", "ended")
      .where("archived_at", "is", null)
      .where("ended_at", "<=", now - retentionMs)
      .execute();
    for (const b of old) {
      await this.db.transaction().execute(async (tx) => {
        await tx.deleteFrom("batch_requests").where("batch_id", "=", b.id).execute();
        await tx.updateTable("message_batches").set({ archived_at: now }).where("id", "=", b.id).execute();
      });
    }
  }

  /** The results lines in request order, read a page at a time so a large batch never sits in memory. */
  async *results(id: string, pageSize = 1000): AsyncGenerator<{ custom_id: string; result: string }> {
    let after = -1;
    for (;;) {
      const rows = await this.db
        .selectFrom("batch_requests")
        .select(["idx", "custom_id", "result"])
        .where("batch_id", "=", id)
        .where("idx", ">", after)
        .orderBy("idx")
        .limit(pageSize)
        .execute();
      for (const r of rows) {
        if (r.result !== null) yield { custom_id: r.custom_id, result: r.result };
      }
      if (rows.length < pageSize) return;
      after = Number(rows[rows.length - 1].idx);
    }
  }

  /** Batches in each processing status, across the store (metrics). */
  async countByStatus(): Promise<Partial<Record<ProcessingStatus, number>>> {
    const rows = await this.db
      .selectFrom("message_batches")
      .select(["processing_status", sql<number | string>`count(*)`.as("n")])
      .groupBy("processing_status")
      .execute();
    return Object.fromEntries(rows.map((r) => [r.processing_status, Number(r.n)]));
  }

  /** Requests in each state, for the CLI and metrics. */
  async states(id: string): Promise<Partial<Record<BatchRequestState, number>>> {
    const rows = await this.db
      .selectFrom("batch_requests")
      .select(["state", sql<number | string>`count(*)`.as("n")])
      .where("batch_id", "=", id)
      .groupBy("state")
      .execute();
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }
}

const sameWorkspace = (workspaceId: string | null) =>
  workspaceId === null ? sql<boolean>`workspace_id is null` : sql<boolean>`workspace_id = ${workspaceId}`;

function toBatch(row: Selectable<MessageBatchTable>): Batch {
  const ms = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: row.id,
    workspace_id: row.workspace_id,
    key_id: row.key_id,
    principal: JSON.parse(row.principal),
    processing_status: row.processing_status,
    request_count: Number(row.request_count),
    counts: {
      succeeded: Number(row.succeeded),
      errored: Number(row.errored),
      canceled: Number(row.canceled),
      expired: Number(row.expired),
    },
    created_at: Number(row.created_at),
    expires_at: Number(row.expires_at),
    ended_at: ms(row.ended_at),
    cancel_initiated_at: ms(row.cancel_initiated_at),
    archived_at: ms(row.archived_at),
  };
}
