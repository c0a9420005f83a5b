import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A random base62 string, the shape of the hosted API's ids (`msg_01…`, 24 characters). */
function base62(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i] % 62];
  return out;
}

export const newMessageId = () => `msg_01${base62(22)}`;
export const newToolUseId = () => `toolu_01${base62(22)}`;
export const newRequestId = () => `req_01${base62(22)}`;
