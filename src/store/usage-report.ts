import { type Expression, type Kysely, type RawBuilder, type SqlBool, sql } from "kysely";
import type { Database } from "./schema.ts";

export const BUCKET_WIDTHS = { "1m": 60_000, "1h": 3_600_000, "1d": 86_400_000 } as const;
export type BucketWidth = keyof typeof BUCKET_WIDTHS;

/** Buckets per page, default and most, as the hosted endpoint allows. */
export const BUCKET_LIMITS: Record<BucketWidth, { default: number; max: number }> = {
  "1d": { default: 7, max: 31 },
  "1h": { default: 24, max: 168 },
  "1m": { default: 60, max: 1440 },
};

export const GROUP_BY = ["api_key_id", "workspace_id", "model", "service_tier", "context_window"] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export interface UsageReportQuery {
  starting_at: Date;
  ending_at?: Date;
  bucket_width: BucketWidth;
  group_by: GroupBy[];
  api_key_ids: string[];
  workspace_ids: string[];
  models: string[];
  limit?: number;
  /** Start of the first bucket of this page (from `next_page`). */
  page_start?: Date;
  now?: Date;
}

export interface UsageResult {
  uncached_input_tokens: number;
  cache_creation: { ephemeral_1h_input_tokens: number; ephemeral_5m_input_tokens: number };
  cache_read_input_tokens: number;
  output_tokens: number;
  server_tool_use: { web_search_requests: number };
  api_key_id: string | null;
  workspace_id: string | null;
  model: string | null;
  service_tier: string | null;
  context_window: string | null;
  inference_geo: string | null;
  /** Parley's addition: how many requests the bucket's row counts (the hosted report has no such field). */
  request_count: number;
}

export interface UsageBucket {
  starting_at: string;
  ending_at: string;
  results: UsageResult[];
}

export interface UsageReport {
  data: UsageBucket[];
  has_more: boolean;
  next_page: string | null;
}

/** The hosted API's context-window pricing tiers, by the prompt's total size. */
const CONTEXT_WINDOW = sql<string>`case when input_tokens + cache_creation_input_tokens + cache_read_input_tokens > 200000 then '200k-1M' else '0-200k' end`;

const GROUP_EXPR: Record<GroupBy, RawBuilder<unknown>> = {
  api_key_id: sql`key_id`,
  workspace_id: sql`workspace_id`,
  model: sql`model`,
  service_tier: sql`coalesce(service_tier, 'standard')`,
  context_window: CONTEXT_WINDOW,
};

/** Token usage in time buckets (UTC-aligned), grouped and filtered like `GET /v1/organizations/usage_report/messages`. */
export async function usageReport(db: Kysely<Database>, q: UsageReportQuery): Promise<UsageReport> {
  const width = BUCKET_WIDTHS[q.bucket_width];
  const limit = q.limit ?? BUCKET_LIMITS[q.bucket_width].default;
  const now = (q.now ?? new Date()).getTime();
  // Buckets that start before ending_at and before now; records before ending_at.
  const end = Math.min(q.ending_at?.getTime() ?? now, now + 1);
  const first = Math.floor((q.page_start ?? q.starting_at).getTime() / width) * width;
  const starts: number[] = [];
  for (let s = first; s < end && starts.length < limit; s += width) starts.push(s);
  const next = (starts.at(-1) ?? first - width) + width;
  const has_more = starts.length === limit && next < end;
  if (starts.length === 0) return { data: [], has_more: false, next_page: null };

  const to = Math.min(next, q.ending_at?.getTime() ?? next);
  const lower = Math.max(first, q.starting_at.getTime());
  const bucket = sql<number>`(started_at / ${sql.lit(width)}) * ${sql.lit(width)}`;
  let query = db
    .selectFrom("usage")
    .select([
      bucket.as("bucket"),
      sql<number>`sum(input_tokens)`.as("input_tokens"),
      sql<number>`sum(output_tokens)`.as("output_tokens"),
      sql<number>`sum(cache_creation_input_tokens)`.as("cache_creation_input_tokens"),
      sql<number>`sum(cache_read_input_tokens)`.as("cache_read_input_tokens"),
      sql<number>`count(*)`.as("request_count"),
    ])
    .where("started_at", ">=", lower)
    .where("started_at", "<", to);
  for (const g of q.group_by) query = query.select(GROUP_EXPR[g].as(`g_${g}`) as never);
  if (q.api_key_ids.length) query = query.where("key_id", "in", q.api_key_ids);
  if (q.workspace_ids.length) query = query.where("workspace_id", "in", q.workspace_ids);
  if (q.models.length) query = query.where("model", "in", q.models);
  const groupCols = [bucket, ...q.group_by.map((g) => GROUP_EXPR[g])];
  const rows = (await query.groupBy(groupCols as Expression<SqlBool>[]).execute()) as unknown as Record<
    string,
    string | number | null
  >[];

  const byBucket = new Map<number, UsageResult[]>(starts.map((s) => [s, []]));
  for (const row of rows) byBucket.get(Number(row.bucket))?.push(toResult(row, q.group_by));
  return {
    data: starts.map((s) => ({
      starting_at: rfc3339(s),
      ending_at: rfc3339(s + width),
      results: sortResults(byBucket.get(s) ?? []),
    })),
    has_more,
    next_page: has_more ? encodePage(next) : null,
  };
}

function toResult(row: Record<string, string | number | null>, groupBy: GroupBy[]): UsageResult {
  const group = (g: GroupBy) => (groupBy.includes(g) ? ((row[`g_${g}`] as string | null) ?? null) : null);
  return {
    uncached_input_tokens: Number(row.input_tokens),
    cache_creation: {
      ephemeral_1h_input_tokens: 0,
      ephemeral_5m_input_tokens: Number(row.cache_creation_input_tokens),
    },
    cache_read_input_tokens: Number(row.cache_read_input_tokens),
    output_tokens: Number(row.output_tokens),
    server_tool_use: { web_search_requests: 0 },
    api_key_id: group("api_key_id"),
    workspace_id: group("workspace_id"),
    model: group("model"),
    service_tier: group("service_tier"),
    context_window: group("context_window"),
    inference_geo: null,
    request_count: Number(row.request_count),
  };
}

const sortKey = (r: UsageResult) =>
  [r.api_key_id, r.workspace_id, r.model, r.service_tier, r.context_window]
    .map((v) => v ?? "")
    .join("\u0000");

function sortResults(results: UsageResult[]): UsageResult[] {
  return results.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
}

/** RFC 3339 in UTC without fractional seconds, as the hosted report writes bucket bounds. */
export const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export const encodePage = (startMs: number) => `page_${Buffer.from(rfc3339(startMs)).toString("base64url")}`;

export function decodePage(token: string): Date | undefined {
  const m = /^page_([A-Za-z0-9_-]+)$/.exec(token);
  if (!m) return undefined;
  const date = new Date(Buffer.from(m[1], "base64url").toString("utf8"));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Tokens (input + output, as the limiter charges them) used by a key or workspace since a time; seeds monthly budgets. */
export async function tokensSince(
  db: Kysely<Database>,
  scope: { kind: "key" | "workspace"; id: string },
  since: Date,
): Promise<number> {
  const row = await db
    .selectFrom("usage")
    .select(sql<number>`coalesce(sum(input_tokens + output_tokens), 0)`.as("n"))
    .where(scope.kind === "key" ? "key_id" : "workspace_id", "=", scope.id)
    .where("started_at", ">=", since.getTime())
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
