import type { FastifyInstance } from "fastify";
import { presentedKey } from "../auth/index.ts";
import { authenticationError } from "../protocol/index.ts";
import type { AppDeps } from "./deps.ts";

/** Auth (onRequest, before the body is read) and limits (before validation), for the API routes. */
export function installApiHooks(app: FastifyInstance, deps: AppDeps): void {
  app.addHook("onRequest", async (request) => {
    const key = presentedKey(request.headers);
    if (!key) throw authenticationError("x-api-key header is required");
    const principal = await deps.keyStore.authenticate(key);
    if (!principal) throw authenticationError("invalid x-api-key");
    request.principal = principal;
  });
  app.addHook("preValidation", async (request, reply) => {
    if (!request.principal || request.routeOptions.config?.unlimited) return;
    request.rateHeaders = await deps.limiter.admit(request.principal);
    reply.headers(request.rateHeaders);
  });
}
