import type { FastifyInstance } from "fastify";
import { installAdminAuth } from "../admin/auth.ts";
import type { AppDeps } from "../deps.ts";
import { readiness } from "../readiness.ts";

/**
 * For orchestrators and Prometheus: `/health` (the process answers), `/ready` (store, Redis and
 * eager models), `/metrics` (Prometheus text). No API key; `/metrics` takes an admin key when
 * `metrics.require_admin_key` is set. All are GETs, so no body is ever read.
 */
export async function operationsRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const hide = { schema: { hide: true } };
  app.get("/health", hide, async () => ({ status: "ok" }));
  app.get("/ready", hide, async (_request, reply) => {
    const body = await readiness(deps);
    return reply.code(body.status === "ready" ? 200 : 503).send(body);
  });
  const metrics = deps.metrics;
  if (!metrics) return;
  await app.register(async (scope) => {
    if (deps.config.metrics.require_admin_key) installAdminAuth(scope, deps.config.admin_keys, deps.keyStore);
    scope.get("/metrics", hide, async (_request, reply) => {
      const text = await metrics.scrape();
      return reply.type(metrics.contentType).send(text);
    });
  });
}
