import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply } from "fastify";
import { notFound } from "../../protocol/index.ts";

/** The built console (committed, so a fresh clone serves it without a build). */
export const CONSOLE_DIST = fileURLToPath(new URL("../../../console/dist/", import.meta.url));

/** Only Parley's own origin: no inline script or style, no frames, no form posts elsewhere. */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Vite names assets by content hash, so they never change under the same URL. */
const IMMUTABLE = "public, max-age=31536000, immutable";

function secure(reply: FastifyReply): void {
  reply.header("content-security-policy", CONSOLE_CSP);
  reply.header("x-content-type-options", "nosniff");
  reply.header("referrer-policy", "no-referrer");
}

/**
 * `/console`: the web console's page and assets, no key needed (the page asks for an admin key
 * and sends it only to the admin API).
 */
export async function consoleRoutes(app: FastifyInstance, root = CONSOLE_DIST): Promise<void> {
  if (!existsSync(`${root}index.html`)) {
    app.get("/console", { schema: { hide: true } }, async () => {
      throw notFound("The console is not built: run `npm run build:console`.");
    });
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: "/console/",
    index: "index.html",
    schemaHide: true,
    cacheControl: false,
    dotfiles: "deny",
    setHeaders: (reply, path) => {
      secure(reply);
      reply.header("cache-control", path.includes("/assets/") ? IMMUTABLE : "no-cache");
    },
  });
  app.get("/console", { schema: { hide: true } }, async (_request, reply) => {
    secure(reply);
    reply.header("cache-control", "no-cache");
    return reply.sendFile("index.html");
  });
}
