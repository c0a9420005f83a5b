import type { FastifyInstance } from "fastify";
import { notFound } from "../../protocol/index.ts";
import type { Store } from "../../store/index.ts";
import {
  CreateWorkspaceBody,
  type CreateWorkspaceBody as CreateWorkspaceBodyT,
  IdParams,
  type IdParams as IdParamsT,
  ListWorkspacesQuery,
  type ListWorkspacesQuery as ListWorkspacesQueryT,
  UpdateWorkspaceBody,
  type UpdateWorkspaceBody as UpdateWorkspaceBodyT,
} from "./schemas.ts";
import { workspaceObject } from "./serialize.ts";

const tags = ["admin: workspaces"];

/** `/v1/organizations/workspaces`: create, list, get, update and archive, as the hosted Admin API does. */
export async function workspaceRoutes(app: FastifyInstance, store: Store): Promise<void> {
  app.get<{ Querystring: ListWorkspacesQueryT }>(
    "/v1/organizations/workspaces",
    { schema: { querystring: ListWorkspacesQuery, summary: "List workspaces", tags } },
    async (request) => {
      const page = await store.workspaces.list(request.query);
      return { ...page, data: page.data.map(workspaceObject) };
    },
  );

  app.post<{ Body: CreateWorkspaceBodyT }>(
    "/v1/organizations/workspaces",
    { schema: { body: CreateWorkspaceBody, summary: "Create a workspace", tags } },
    async (request) => workspaceObject(await store.workspaces.create(request.body)),
  );

  app.get<{ Params: IdParamsT }>(
    "/v1/organizations/workspaces/:id",
    { schema: { params: IdParams, summary: "Get a workspace", tags } },
    async (request) => workspaceObject(await existing(store, request.params.id)),
  );

  app.post<{ Params: IdParamsT; Body: UpdateWorkspaceBodyT }>(
    "/v1/organizations/workspaces/:id",
    { schema: { params: IdParams, body: UpdateWorkspaceBody, summary: "Update a workspace", tags } },
    async (request) => {
      const current = await existing(store, request.params.id);
      return workspaceObject((await store.workspaces.update(current.id, request.body)) ?? current);
    },
  );

  app.post<{ Params: IdParamsT }>(
    "/v1/organizations/workspaces/:id/archive",
    { schema: { params: IdParams, summary: "Archive a workspace and its API keys", tags } },
    async (request) => {
      const current = await existing(store, request.params.id);
      return workspaceObject((await store.workspaces.archive(current.id)) ?? current);
    },
  );
}

async function existing(store: Store, id: string) {
  const ws = await store.workspaces.get(id);
  if (!ws) throw notFound(`Workspace '${id}' not found`);
  return ws;
}
