import type { FastifyInstance } from "fastify";

/** GET / (and HEAD /, Claude Code's pre-warm probe) and the OpenAPI document; no key needed. */
export async function rootRoutes(app: FastifyInstance): Promise<void> {
  app.get("/", { schema: { hide: true } }, async () => ({
    name: "parley",
    api: "Claude Messages API",
    docs: "/openapi.json",
  }));
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
}
