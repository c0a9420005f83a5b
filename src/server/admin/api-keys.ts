import type { FastifyInstance } from "fastify";
import { invalidRequest, notFound } from "../../protocol/index.ts";
import type { Store } from "../../store/index.ts";
import {
  CreateKeyBody,
  type CreateKeyBody as CreateKeyBodyT,
  IdParams,
  type IdParams as IdParamsT,
  ListKeysQuery,
  type ListKeysQuery as ListKeysQueryT,
  UpdateKeyBody,
  type UpdateKeyBody as UpdateKeyBodyT,
} from "./schemas.ts";
import { apiKeyObject } from "./serialize.ts";

const tags = ["admin: api keys"];

/** `/v1/organizations/api_keys`: list, get and update as the hosted Admin API does; create is Parley's own. */
export async function apiKeyRoutes(app: FastifyInstance, store: Store): Promise<void> {
  app.get<{ Querystring: ListKeysQueryT }>(
    "/v1/organizations/api_keys",
    { schema: { querystring: ListKeysQuery, summary: "List API keys", tags } },
    async (request) => {
      const { status, ...rest } = request.query;
      // Parley keys never expire, so the `expired` filter matches none.
      if (status === "expired") return { data: [], has_more: false, first_id: null, last_id: null };
      const page = await store.keys.list({ ...rest, status });
      return { ...page, data: page.data.map(apiKeyObject) };
    },
  );

  app.post<{ Body: CreateKeyBodyT }>(
    "/v1/organizations/api_keys",
    {
      schema: {
        body: CreateKeyBody,
        summary: "Create an API key (Parley); the response's `key` is shown only this once",
        tags,
      },
    },
    async (request) => {
      const { workspace_id, ...rest } = request.body;
      if (workspace_id) {
        const ws = await store.workspaces.get(workspace_id);
        if (!ws) throw notFound(`Workspace '${workspace_id}' not found`);
        if (ws.archived_at) throw invalidRequest(`Workspace '${workspace_id}' is archived`);
      }
      const { key, secret } = await store.keys.create({ ...rest, workspace_id, created_by: request.adminId });
      return { ...apiKeyObject(key), key: secret };
    },
  );

  app.get<{ Params: IdParamsT }>(
    "/v1/organizations/api_keys/:id",
    { schema: { params: IdParams, summary: "Get an API key", tags } },
    async (request) => apiKeyObject(await existing(store, request.params.id)),
  );

  app.post<{ Params: IdParamsT; Body: UpdateKeyBodyT }>(
    "/v1/organizations/api_keys/:id",
    { schema: { params: IdParams, body: UpdateKeyBody, summary: "Update an API key", tags } },
    async (request) => {
      const current = await existing(store, request.params.id);
      const { name, status, models, limits, mcp_allowed_hosts } = request.body;
      if (current.status === "archived" && status && status !== "archived") {
        throw invalidRequest("An archived API key cannot be reactivated.");
      }
      const updated = await store.keys.update(current.id, {
        name: name ?? undefined,
        status: status ?? undefined,
        models,
        limits,
        mcp_allowed_hosts,
      });
      return apiKeyObject(updated ?? current);
    },
  );
}

async function existing(store: Store, id: string) {
  const key = await store.keys.get(id);
  if (!key) throw notFound(`API key '${id}' not found`);
  return key;
}
