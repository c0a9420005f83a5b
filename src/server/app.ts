import swagger from "@fastify/swagger";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyBodyParser,
  type FastifyInstance,
  LogController,
} from "fastify";
import type { Principal } from "../auth/index.ts";
import { assertJsonDepth, compileValidator, invalidRequest, newRequestId } from "../protocol/index.ts";
import type { ModelCatalog } from "../router/index.ts";
import { clientErrorHandler, installConnectionGuard, serverTimeouts } from "./connection-guard.ts";
import { consoleRoutes } from "./console/index.ts";
import type { AppDeps } from "./deps.ts";
import { installErrorHandlers, sendError, toEnvelopeError } from "./errors.ts";
import { installApiHooks } from "./hooks.ts";
import { requestLogger } from "./request-logger.ts";
import { batchRoutes } from "./routes/batches.ts";
import { countTokensRoutes } from "./routes/count-tokens.ts";
import { fileRoutes } from "./routes/files.ts";
import { countGuardAnswer, messagesRoutes } from "./routes/messages.ts";
import { modelsRoutes } from "./routes/models.ts";
import { operationsRoutes } from "./routes/operations.ts";
import { rootRoutes } from "./routes/root.ts";

declare module "fastify" {
  interface FastifyInstance {
    /** The models this server serves, for plugins such as the admin API's model status. */
    catalog: ModelCatalog;
  }
  interface FastifyRequest {
    principal: Principal | null;
    rateHeaders: Record<string, string>;
  }
  interface FastifyContextConfig {
    /** Not counted against the key's request limit (count_tokens, models). */
    unlimited?: boolean;
  }
}

export interface AppOptions {
  logger: FastifyBaseLogger;
  /** More routes under the same error handling, e.g. the admin API. */
  plugins?: ((app: FastifyInstance) => Promise<void>)[];
}

/** The Fastify app: HTTP edge of the data path (routes, auth, limits, errors). */
export async function buildApp(deps: AppDeps, options: AppOptions): Promise<FastifyInstance> {
  const bodyLimitMb = deps.config.server.body_limit_mb;
  const limits = {
    bodyTimeoutMs: deps.config.server.body_timeout_ms,
    idleTimeoutMs: deps.config.server.idle_timeout_ms,
  };
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: Math.floor(bodyLimitMb * 1024 * 1024),
    genReqId: () => newRequestId(),
    childLoggerFactory: requestLogger,
    requestIdHeader: false,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    ...serverTimeouts(limits),
    clientErrorHandler,
    // Malformed URLs and the like, before routing: the same envelope as every other error.
    frameworkErrors: (err, request, reply) => {
      reply.header("request-id", request.id);
      return sendError(request, reply, toEnvelopeError(err, bodyLimitMb));
    },
  });
  app.decorate("catalog", deps.catalog);
  app.decorateRequest("principal", null);
  app.decorateRequest("rateHeaders", null as unknown as Record<string, string>);
  app.addHook("onRequest", (request, reply, done) => {
    request.rateHeaders = {};
    reply.header("request-id", request.id);
    done();
  });
  installConnectionGuard(app, limits, countGuardAnswer(deps));
  installBodyHandling(app);
  installErrorHandlers(app, bodyLimitMb);
  await app.register(swagger, {
    openapi: { info: { title: "Parley: Claude Messages API", version: "1" } },
  });
  await app.register(rootRoutes);
  await app.register(async (scope) => consoleRoutes(scope));
  await app.register(async (ops) => operationsRoutes(ops, deps));
  await app.register(async (api) => {
    installApiHooks(api, deps);
    await messagesRoutes(api, deps);
    await countTokensRoutes(api, deps);
    await modelsRoutes(api, deps);
    if (deps.batches) await batchRoutes(api, deps, deps.batches);
    if (deps.files) {
      const files = deps.files;
      await api.register(async (scope) => fileRoutes(scope, deps, files));
    }
  });
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  return app;
}

/**
 * Bodies are JSON whatever the content-type says (curl -d sends form encoding), and are
 * checked exactly as sent; query strings get number coercion.
 */
function installBodyHandling(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser("error", "ignore");
  app.removeAllContentTypeParsers();
  const parse: FastifyBodyParser<string> = (request, body, done) => {
    if (body === "") return done(null, undefined);
    json(request, body, (err, value) => {
      if (err) return done(err);
      try {
        assertJsonDepth(value);
      } catch (e) {
        return done(e as Error);
      }
      done(null, value);
    });
  };
  app.addContentTypeParser("*", { parseAs: "string" }, parse);
  // The same parser under the type clients send: Fastify caches the parser it finds for a
  // content-type, but not the catch-all, which it found again per request by parsing the header
  // into a ContentType (about 1.5% of a request's CPU, perf).
  app.addContentTypeParser("application/json", { parseAs: "string" }, parse);
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const check = compileValidator(schema, httpPart === "body" ? "body" : "query");
    return (data: unknown) => {
      const result = check(data);
      return result.ok ? { value: data } : { error: invalidRequest(result.message) };
    };
  });
}
