import type { FastifyInstance } from "fastify";
import { invalidRequest } from "../../protocol/index.ts";
import { BUCKET_LIMITS, type BucketWidth, decodePage, type Store } from "../../store/index.ts";
import { UsageReportQuery, type UsageReportQuery as UsageReportQueryT } from "./schemas.ts";

const RFC3339 = /^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d:\d\d)$/;

function parseTime(name: string, value: string): Date {
  const ms = Date.parse(value);
  if (!RFC3339.test(value) || Number.isNaN(ms)) {
    throw invalidRequest(`${name}: Input should be a valid RFC 3339 datetime, got '${value}'`);
  }
  return new Date(ms);
}

/** `GET /v1/organizations/usage_report/messages`: token usage in time buckets, as the hosted report. */
export async function usageReportRoutes(app: FastifyInstance, store: Store): Promise<void> {
  app.get<{ Querystring: UsageReportQueryT }>(
    "/v1/organizations/usage_report/messages",
    {
      schema: { querystring: UsageReportQuery, summary: "Messages usage report", tags: ["admin: usage"] },
    },
    async (request) => {
      const q = request.query;
      const bucket_width: BucketWidth = q.bucket_width ?? "1d";
      const starting_at = parseTime("starting_at", q.starting_at);
      const ending_at = q.ending_at === undefined ? undefined : parseTime("ending_at", q.ending_at);
      if (ending_at && ending_at <= starting_at) throw invalidRequest("ending_at: must be after starting_at");
      const max = BUCKET_LIMITS[bucket_width].max;
      if (q.limit !== undefined && q.limit > max) {
        throw invalidRequest(
          `limit: Input should be less than or equal to ${max} for bucket_width ${bucket_width}`,
        );
      }
      let page_start: Date | undefined;
      if (q.page !== undefined) {
        page_start = decodePage(q.page);
        if (!page_start) throw invalidRequest("page: not a page token from this report");
      }
      return store.report({
        starting_at,
        ending_at,
        bucket_width,
        limit: q.limit,
        page_start,
        group_by: [...new Set([...(q["group_by[]"] ?? []), ...(q.group_by ?? [])])],
        api_key_ids: [...(q["api_key_ids[]"] ?? []), ...(q.api_key_ids ?? [])],
        workspace_ids: [...(q["workspace_ids[]"] ?? []), ...(q.workspace_ids ?? [])],
        models: [...(q["models[]"] ?? []), ...(q.models ?? [])],
      });
    },
  );
}
