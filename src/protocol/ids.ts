import { randomFillSync } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Random bytes drawn in bulk: one syscall per 4 KiB instead of one per id (ids are on the hot path). */
const pool = Buffer.alloc(4096);
let next = pool.length;

function randomByte(): number {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  return pool[next++];
}

/** A random base62 string, the shape of the hosted API's ids (`msg_01…`); bytes ≥ 248 are redrawn so every character is equally likely. */
function base62(length: number): string {
  let out = "";
  while (out.length < length) {
    const b = randomByte();
    if (b < 248) out += ALPHABET[b % 62];
  }
  return out;
}

export const newMessageId = () => `msg_01${base62(22)}`;
export const newToolUseId = () => `toolu_01${base62(22)}`;
export const newMcpToolUseId = () => `mcptoolu_01${base62(22)}`;
export const newRequestId = () => `req_01${base62(22)}`;
