import type { Batch } from "./repository.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * A `MessageBatch` as the hosted API shows it. While a batch runs every request counts as
 * `processing`; the final counts appear when it ends. `results_url` is absolute on `baseUrl`.
 */
export function batchObject(b: Batch, baseUrl: string) {
  const ended = b.processing_status === "ended";
  return {
    id: b.id,
    type: "message_batch" as const,
    processing_status: b.processing_status,
    request_counts: {
      processing: ended ? 0 : b.request_count,
      succeeded: ended ? b.counts.succeeded : 0,
      errored: ended ? b.counts.errored : 0,
      canceled: ended ? b.counts.canceled : 0,
      expired: ended ? b.counts.expired : 0,
    },
    created_at: new Date(b.created_at).toISOString(),
    expires_at: new Date(b.expires_at).toISOString(),
    ended_at: iso(b.ended_at),
    cancel_initiated_at: iso(b.cancel_initiated_at),
    archived_at: iso(b.archived_at),
    results_url: ended && b.archived_at === null ? `${baseUrl}/v1/messages/batches/${b.id}/results` : null,
  };
}
