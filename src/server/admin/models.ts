import type { FastifyInstance } from "fastify";
import type { ModelEntry } from "../../router/index.ts";

/** `GET /v1/parley/models`: every served model with its state and load right now (for the console). */
export async function modelStatusRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    "/v1/parley/models",
    {
      schema: { summary: "Models with their status, slots and queue now (Parley)", tags: ["admin: parley"] },
    },
    async () => ({ data: app.catalog.entries.map(modelStatus) }),
  );
}

function modelStatus(e: ModelEntry) {
  const status = e.provider.status();
  const { gate } = e;
  return {
    id: e.config.id,
    aliases: e.config.aliases ?? [],
    provider: e.config.provider,
    available: status.available,
    ...(status.reason ? { reason: status.reason } : {}),
    ...(status.load ? { load: status.load } : {}),
    context_window: status.contextWindow ?? e.config.context_window ?? null,
    slots: {
      busy: gate.active,
      // Unbounded when `parallel` is not set.
      total: Number.isFinite(gate.slots) ? gate.slots : null,
      queued: gate.queued,
      max_queue: gate.maxQueue,
    },
    ...(status.upstreams ? { upstreams: status.upstreams } : {}),
  };
}
