import type { FastifyInstance } from "fastify";
import type { KeyStore } from "../../auth/index.ts";
import type { Store } from "../../store/index.ts";
import { apiKeyRoutes } from "./api-keys.ts";
import { installAdminAuth } from "./auth.ts";
import { modelStatusRoutes } from "./models.ts";
import { requestLogRoutes } from "./requests.ts";
import { usageReportRoutes } from "./usage-report.ts";
import { workspaceRoutes } from "./workspaces.ts";

export interface AdminOptions {
  store: Store;
  /** The config's `admin_keys`. With none, every admin request is refused. */
  adminKeys: string[];
  /** Lets an ordinary API key get a 403 that says why, instead of a 401. */
  keyStore?: KeyStore;
}

/** The Admin API (`/v1/organizations/…`, and Parley's own `/v1/parley/…` for the console) as a Fastify plugin for `buildApp`'s `plugins`. */
export function adminRoutes(options: AdminOptions): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    installAdminAuth(app, options.adminKeys, options.keyStore);
    await apiKeyRoutes(app, options.store);
    await workspaceRoutes(app, options.store);
    await usageReportRoutes(app, options.store);
    await modelStatusRoutes(app);
    await requestLogRoutes(app, options.store);
  };
}
