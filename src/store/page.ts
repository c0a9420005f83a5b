import { sql } from "kysely";

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
