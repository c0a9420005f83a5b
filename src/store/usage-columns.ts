import type { UsageRow } from "./usage-recorder.ts";

/** The usage table's columns, in the order batch writers send values. */
export const USAGE_COLUMNS = [
  "request_id",
  "key_id",
  "workspace_id",
  "model",
  "input_tokens",
  "output_tokens",
  "cache_creation_input_tokens",
  "cache_read_input_tokens",
  "status",
  "error_type",
  "streamed",
  "latency_ms",
  "ttft_ms",
  "started_at",
  "batch_id",
  "service_tier",
] as const;

/** A row's values in `USAGE_COLUMNS` order, each typed as its column (so a swap of two types fails tsc). */
export type UsageValues = ValuesOf<typeof USAGE_COLUMNS>;
type ValuesOf<Columns extends readonly unknown[]> = { -readonly [I in keyof Columns]: ValueOf<Columns[I]> };
type ValueOf<C> = C extends keyof UsageRow ? Exclude<UsageRow[C], undefined> | null : never;

/**
 * A row as values in `USAGE_COLUMNS` order, absent ones as null. Read field by field: a loop over
 * the column names was a megamorphic keyed load per value, about 2% of a request's CPU on the
 * server thread, which converts every row before it goes to the writer thread.
 */
export function usageValues(r: UsageRow): UsageValues {
  return [
    r.request_id,
    r.key_id ?? null,
    r.workspace_id ?? null,
    r.model,
    r.input_tokens,
    r.output_tokens,
    r.cache_creation_input_tokens,
    r.cache_read_input_tokens,
    r.status,
    r.error_type ?? null,
    r.streamed,
    r.latency_ms,
    r.ttft_ms ?? null,
    r.started_at,
    r.batch_id ?? null,
    r.service_tier ?? null,
  ];
}
