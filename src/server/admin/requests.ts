import type { FastifyInstance } from "fastify";
import { invalidRequest } from "../../protocol/index.ts";
import { type LoggedRequest, type Store, UnknownCursorError } from "../../store/index.ts";
import { ListRequestsQuery, type ListRequestsQuery as ListRequestsQueryT } from "./schemas.ts";

/**
 * `GET /v1/parley/requests`: the latest usage rows, newest first, with cursor pages (for the console).
 * `first_id` / `last_id` are request ids; `after_id` gives the older page, `before_id` the newer one.
 */
export async function requestLogRoutes(app: FastifyInstance, store: Store): Promise<void> {
  app.get<{ Querystring: ListRequestsQueryT }>(
    "/v1/parley/requests",
    {
      schema: {
        querystring: ListRequestsQuery,
        summary: "Latest requests, newest first (Parley)",
        tags: ["admin: parley"],
      },
    },
    async (request) => {
      const { status, ...rest } = request.query;
      if (rest.after_id !== undefined && rest.before_id !== undefined) {
        throw invalidRequest("after_id and before_id cannot both be given");
      }
      try {
        const page = await store.requests({
          ...rest,
          status:
            status === undefined || status === "success" || status === "error" ? status : Number(status),
        });
        return { ...page, data: page.data.map(requestObject) };
      } catch (err) {
        if (err instanceof UnknownCursorError) {
          const field = rest.after_id !== undefined ? "after_id" : "before_id";
          throw invalidRequest(`${field}: no recorded request with id '${err.message}'`);
        }
        throw err;
      }
    },
  );
}

function requestObject(r: LoggedRequest) {
  return {
    type: "request" as const,
    request_id: r.id,
    started_at: r.started_at.toISOString(),
    api_key: r.api_key,
    workspace_id: r.workspace_id,
    model: r.model,
    status: r.status,
    error_type: r.error_type,
    streamed: r.streamed,
    usage: {
      input_tokens: r.input_tokens,
      output_tokens: r.output_tokens,
      cache_creation_input_tokens: r.cache_creation_input_tokens,
      cache_read_input_tokens: r.cache_read_input_tokens,
    },
    latency_ms: r.latency_ms,
    ttft_ms: r.ttft_ms,
    service_tier: r.service_tier,
  };
}
