import type { IncomingHttpHeaders } from "node:http";

/** The key a client presented: `x-api-key`, or `Authorization: Bearer` (SDK 1.x, Claude Code auth tokens). */
export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const apiKey = headers["x-api-key"];
  if (typeof apiKey === "string" && apiKey !== "") return apiKey;
  const auth = headers.authorization;
  if (typeof auth === "string") {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1];
  }
  return undefined;
}
