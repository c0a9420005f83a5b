import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** An id in the hosted API's style: `apikey_01…`, `wrkspc_01…` (base62). */
export function newId(prefix: "apikey" | "wrkspc" | "msgbatch" | "file"): string {
  const bytes = randomBytes(22);
  let out = `${prefix}_01`;
  for (const b of bytes) out += ALPHABET[b % 62];
  return out;
}
