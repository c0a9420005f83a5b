import type { FastifyInstance } from "fastify";
import { hashKey, type KeyStore, presentedKey, sameHash } from "../../auth/index.ts";
import { authenticationError, permissionError } from "../../protocol/index.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** Which admin key made the request (`admin_` + a hash prefix; never the key). */
    adminId: string | null;
  }
}

/**
 * Admin endpoints take only the config's `admin_keys` (held as hashes, compared in constant time).
 * An ordinary API key gets a 403 saying so; anything else a 401.
 */
export function installAdminAuth(app: FastifyInstance, adminKeys: string[], keyStore?: KeyStore): void {
  const hashes = adminKeys.map((k) => hashKey(k));
  app.decorateRequest("adminId", null);
  app.addHook("onRequest", async (request) => {
    const key = presentedKey(request.headers);
    if (!key) throw authenticationError("x-api-key header is required");
    const hash = hashKey(key);
    let match: Buffer | undefined;
    for (const h of hashes) if (sameHash(h, hash)) match = h;
    if (match) {
      request.adminId = `admin_${match.toString("hex").slice(0, 16)}`;
      return;
    }
    if (keyStore && (await keyStore.authenticate(key))) {
      throw permissionError("This endpoint requires an admin API key; ordinary API keys cannot use it.");
    }
    throw authenticationError("invalid x-api-key");
  });
}
