import { type Kysely, sql } from "kysely";
import { type Page, toPage } from "./page.ts";
import type { Database } from "./schema.ts";

/** `success`: answered without error; `error`: anything else; a number: that HTTP status. */
export type RequestStatusFilter = "success" | "error" | number;

export interface RequestLogQuery {
  limit?: number;
  /** The next (older) page starts after this request id; `before_id` gives the newer page before it. */
  after_id?: string;
  before_id?: string;
  status?: RequestStatusFilter;
  model?: string;
  api_key_id?: string;
}

/** One usage row as the console's request log shows it. */
export interface LoggedRequest {
  id: string;
  started_at: Date;
  api_key: { id: string; name: string | null } | null;
  workspace_id: string | null;
  model: string;
  status: number;
  error_type: string | null;
  streamed: boolean;
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  latency_ms: number;
  ttft_ms: number | null;
  service_tier: string;
}

/** Thrown for an `after_id` / `before_id` that names no recorded request. */
export class UnknownCursorError extends Error {}

/** Usage rows newest first (by start time, then request id), keyset-paginated like the hosted list endpoints. */
export async function requestLog(db: Kysely<Database>, q: RequestLogQuery): Promise<Page<LoggedRequest>> {
  const limit = q.limit ?? 50;
  const cursorId = q.after_id ?? q.before_id;
  const before = q.after_id === undefined && q.before_id !== undefined;
  let query = db
    .selectFrom("usage as u")
    .leftJoin("api_keys as k", "k.id", "u.key_id")
    .selectAll("u")
    .select("k.name as key_name");
  if (q.model !== undefined) query = query.where("u.model", "=", q.model);
  if (q.api_key_id !== undefined) query = query.where("u.key_id", "=", q.api_key_id);
  if (q.status === "success") query = query.where("u.status", "<", 400).where("u.error_type", "is", null);
  else if (q.status === "error")
    query = query.where((eb) => eb.or([eb("u.status", ">=", 400), eb("u.error_type", "is not", null)]));
  else if (q.status !== undefined) query = query.where("u.status", "=", q.status);
  if (cursorId !== undefined) {
    const cursor = await db
      .selectFrom("usage")
      .select("started_at")
      .where("request_id", "=", cursorId)
      .executeTakeFirst();
    if (!cursor) throw new UnknownCursorError(cursorId);
    const at = Number(cursor.started_at);
    query = query.where(
      before
        ? sql<boolean>`(u.started_at > ${at} or (u.started_at = ${at} and u.request_id > ${cursorId}))`
        : sql<boolean>`(u.started_at < ${at} or (u.started_at = ${at} and u.request_id < ${cursorId}))`,
    );
  }
  const order = before ? "asc" : "desc";
  const rows = await query
    .orderBy("u.started_at", order)
    .orderBy("u.request_id", order)
    .limit(limit + 1)
    .execute();
  return toPage(
    rows.map((r) => ({
      id: r.request_id,
      started_at: new Date(Number(r.started_at)),
      api_key: r.key_id === null ? null : { id: r.key_id, name: r.key_name ?? null },
      workspace_id: r.workspace_id,
      model: r.model,
      status: r.status,
      error_type: r.error_type,
      streamed: Number(r.streamed) === 1,
      input_tokens: Number(r.input_tokens),
      output_tokens: Number(r.output_tokens),
      cache_creation_input_tokens: Number(r.cache_creation_input_tokens),
      cache_read_input_tokens: Number(r.cache_read_input_tokens),
      latency_ms: Number(r.latency_ms),
      ttft_ms: r.ttft_ms === null ? null : Number(r.ttft_ms),
      service_tier: r.service_tier ?? "standard",
    })),
    limit,
    before,
  );
}
