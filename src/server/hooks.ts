import type { FastifyInstance } from "fastify";
import { credentialProblem, presentedCredential } from "../auth/index.ts";
import { authenticationError } from "../protocol/index.ts";
import type { AppDeps } from "./deps.ts";

/** Auth (onRequest, before the body is read) and limits (before validation), for the API routes. */
export function installApiHooks(app: FastifyInstance, deps: AppDeps): void {
  app.addHook("onRequest", async (request) => {
    const credential = presentedCredential(request.headers);
    if (!credential?.key) throw authenticationError(credentialProblem(credential));
    const principal = await deps.keyStore.authenticate(credential.key);
    if (!principal) throw authenticationError(credentialProblem(credential));
    request.principal = principal;
  });
  app.addHook("preValidation", async (request, reply) => {
    if (!request.principal || request.routeOptions.config?.unlimited) return;
    try {
      request.rateHeaders = await deps.limiter.admit(request.principal);
    } catch (err) {
      deps.messages.countRefusal(err);
      throw err;
    }
    reply.headers(request.rateHeaders);
  });
}
