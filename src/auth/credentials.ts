import type { IncomingHttpHeaders } from "node:http";

/** Where a client put its key: messages about a bad key name that header. */
export type CredentialHeader = "x-api-key" | "Authorization";

export interface PresentedCredential {
  key: string;
  header: CredentialHeader;
}

/**
 * The key a client presented: `x-api-key`, or `Authorization: Bearer` (SDK 1.x, Claude Code auth
 * tokens). An `Authorization` header that is not a Bearer token comes back with an empty key.
 */
export function presentedCredential(headers: IncomingHttpHeaders): PresentedCredential | undefined {
  const apiKey = headers["x-api-key"];
  if (typeof apiKey === "string" && apiKey !== "") return { key: apiKey, header: "x-api-key" };
  const auth = headers.authorization;
  if (typeof auth === "string" && auth.trim() !== "") {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    return { key: m?.[1] ?? "", header: "Authorization" };
  }
  return undefined;
}

export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const credential = presentedCredential(headers);
  return credential?.key || undefined;
}

/** The 401 message for a credential that is missing, malformed or unknown, naming the header used. */
export function credentialProblem(credential: PresentedCredential | undefined): string {
  if (!credential) return "x-api-key header is required";
  if (credential.header === "x-api-key") return "invalid x-api-key";
  return credential.key === ""
    ? "Authorization header must be 'Bearer <api key>'"
    : "invalid bearer token in the Authorization header";
}
