import type { FastifyInstance } from "fastify";
import Type, { type Static } from "typebox";
import { modelAllowed, type Principal } from "../../auth/index.ts";
import { invalidRequest, notFound } from "../../protocol/index.ts";
import type { ModelEntry } from "../../router/index.ts";
import type { AppDeps } from "../deps.ts";

const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 20 })),
  after_id: Type.Optional(Type.String()),
  before_id: Type.Optional(Type.String()),
});
type ListQuery = Static<typeof ListQuery>;

const ModelParams = Type.Object({ model_id: Type.String() });

/** GET /v1/models (cursor pages, newest first) and GET /v1/models/{id} (aliases resolve). */
export async function modelsRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const visible = (principal: Principal | null) =>
    [...deps.catalog.entries]
      .map((e, i) => ({ e, i }))
      .sort((a, b) => b.e.createdAt.localeCompare(a.e.createdAt) || a.i - b.i)
      .map(({ e }) => e)
      .filter((e) => principal && modelAllowed(principal, [e.config.id, ...(e.config.aliases ?? [])]));

  app.get<{ Querystring: ListQuery }>(
    "/v1/models",
    {
      schema: { querystring: ListQuery, summary: "List models", tags: ["models"] },
      config: { unlimited: true },
    },
    async (request) => {
      const all = visible(request.principal);
      const { page, has_more } = paginate(all, request.query);
      const data = page.map(modelInfo);
      return {
        data,
        has_more,
        first_id: data[0]?.id ?? null,
        last_id: data[data.length - 1]?.id ?? null,
        models: page.map((e) => ({
          name: e.config.id,
          type: "model",
          context_window: e.provider.status().contextWindow ?? e.config.context_window ?? null,
        })),
      };
    },
  );

  app.get<{ Params: Static<typeof ModelParams> }>(
    "/v1/models/:model_id",
    {
      schema: { params: ModelParams, summary: "Get a model", tags: ["models"] },
      config: { unlimited: true },
    },
    async (request) => {
      const entry = deps.catalog.find(request.params.model_id);
      if (!entry || !visible(request.principal).includes(entry))
        throw notFound(`model: ${request.params.model_id}`);
      return modelInfo(entry);
    },
  );
}

function paginate(all: ModelEntry[], q: ListQuery): { page: ModelEntry[]; has_more: boolean } {
  const limit = q.limit ?? 20;
  const indexOf = (field: "after_id" | "before_id", id: string) => {
    const i = all.findIndex((e) => e.config.id === id);
    if (i < 0) throw invalidRequest(`${field}: no model with id '${id}'`);
    return i;
  };
  if (q.before_id !== undefined) {
    const end = indexOf("before_id", q.before_id);
    const start = Math.max(0, end - limit);
    return { page: all.slice(start, end), has_more: start > 0 };
  }
  const start = q.after_id !== undefined ? indexOf("after_id", q.after_id) + 1 : 0;
  return { page: all.slice(start, start + limit), has_more: start + limit < all.length };
}

function modelInfo(e: ModelEntry) {
  const c = e.config;
  const caps = e.capabilities;
  const status = e.provider.status();
  const supported = (v: boolean) => ({ supported: v });
  return {
    type: "model",
    id: c.id,
    display_name: c.display_name ?? c.id,
    created_at: e.createdAt,
    max_input_tokens: status.contextWindow ?? c.context_window ?? null,
    max_tokens: status.maxOutputTokens ?? c.max_output_tokens ?? null,
    capabilities: {
      batch: supported(true),
      citations: supported(false),
      code_execution: supported(false),
      context_management: supported(false),
      effort: supported(false),
      image_input: supported(caps.vision),
      pdf_input: supported(false),
      server_tools: supported(c.provider === "anthropic"),
      structured_outputs: supported(caps.json_schema),
      thinking: { supported: caps.thinking },
      tool_use: supported(caps.tools),
    },
    lifecycle: "active",
    deprecated_at: null,
    retires_at: null,
    parley: {
      provider: c.provider,
      aliases: c.aliases ?? [],
      available: status.available,
      ...(status.reason ? { reason: status.reason } : {}),
    },
  };
}
