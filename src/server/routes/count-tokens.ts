import type { FastifyInstance } from "fastify";
import { contextModelOf, countWithContext } from "../../context/index.ts";
import {
  type CountTokensParams,
  CountTokensResponse,
  CountTokensParams as CountTokensSchema,
  invalidRequest,
  toCountRequest,
} from "../../protocol/index.ts";
import { resolveModel } from "../../router/index.ts";
import type { AppDeps } from "../deps.ts";
import { logUnknownFields, requestContext } from "../request-context.ts";

/**
 * POST /v1/messages/count_tokens: the same rendering the model would see, no generation.
 * Cheap (clients send dozens at start-up), so it takes no generation slot and no rpm.
 */
export async function countTokensRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.post<{ Body: CountTokensParams }>(
    "/v1/messages/count_tokens",
    {
      schema: {
        body: CountTokensSchema,
        response: { 200: CountTokensResponse },
        summary: "Count the tokens of a message request",
        tags: ["messages"],
      },
      config: { unlimited: true },
    },
    async (request) => {
      logUnknownFields(request, request.body);
      // As on the hosted API: the MCP servers' tools are only known by connecting to them.
      if (request.body.mcp_servers?.length)
        throw invalidRequest("mcp_servers: not supported by count_tokens");
      const req = toCountRequest(request.body, requestContext(request));
      const principal = request.principal;
      if (!principal) throw new Error("unauthenticated request reached count_tokens");
      const entry = resolveModel(deps.catalog, req.model, principal);
      const abort = new AbortController();
      const options = { signal: abort.signal, requestId: String(request.id) };
      // The count of the prompt the model would see: after context edits, as /v1/messages runs them.
      return countWithContext(contextModelOf(entry, options), req);
    },
  );
}
