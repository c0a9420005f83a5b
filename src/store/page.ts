import { type SelectQueryBuilder, sql } from "kysely";

/** Cursor paging as the hosted list endpoints do it: newest first, `after_id` / `before_id`, `limit`. */
export interface PageParams {
  limit?: number;
  after_id?: string;
  before_id?: string;
}

export interface Page<T> {
  data: T[];
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

export interface Cursor {
  created_at: number;
  id: string;
}

/** Rows older than the cursor (the next page) or newer (the previous page), in (created_at, id) order. */
export function beyond(cursor: Cursor, direction: "after" | "before") {
  return direction === "after"
    ? sql<boolean>`(created_at < ${cursor.created_at} or (created_at = ${cursor.created_at} and id < ${cursor.id}))`
    : sql<boolean>`(created_at > ${cursor.created_at} or (created_at = ${cursor.created_at} and id > ${cursor.id}))`;
}

/** Turns `limit + 1` fetched rows into a page; `before` pages were fetched oldest first. */
export function toPage<T extends { id: string }>(rows: T[], limit: number, before: boolean): Page<T> {
  const has_more = rows.length > limit;
  const data = rows.slice(0, limit);
  if (before) data.reverse();
  return {
    data,
    has_more,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
  };
}

/**
 * One page of a `(created_at, id)`-keyed table, newest first. `locate` finds the cursor row the
 * way the caller may see it (its workspace, not expired), so a cursor the caller may not see
 * gives an empty page rather than a peek past it.
 */
export async function keysetPage<DB, TB extends keyof DB, Row, T extends { id: string }>(
  query: SelectQueryBuilder<DB, TB, Row>,
  params: PageParams,
  locate: (id: string) => Promise<Cursor | undefined>,
  toItem: (row: Row) => T,
): Promise<Page<T>> {
  const limit = params.limit ?? 20;
  const cursorId = params.after_id ?? params.before_id;
  const before = params.after_id === undefined && params.before_id !== undefined;
  let q = query;
  if (cursorId !== undefined) {
    const cursor = await locate(cursorId);
    if (!cursor) return toPage([], limit, before);
    q = q.where(beyond(cursor, before ? "before" : "after"));
  }
  const order = before ? "asc" : "desc";
  const rows = await q
    .orderBy(sql`created_at`, order)
    .orderBy(sql`id`, order)
    .limit(limit + 1)
    .execute();
  return toPage(rows.map(toItem), limit, before);
}

/** The cursor of an item whose `created_at` is a Date (keys, workspaces). */
export function cursorOf(item: { id: string; created_at: Date } | undefined): Cursor | undefined {
  return item && { created_at: item.created_at.getTime(), id: item.id };
}
