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

/** Milliseconds since 1970 as 8 base62 digits, most significant first (they run out in the year 8889). */
function timePrefix(ms: number): string {
  let rest = ms;
  let out = "";
  for (let i = 0; i < 8; i++) {
    out = ALPHABET[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

export const newMessageId = () => `msg_01${base62(22)}`;
export const newToolUseId = () => `toolu_01${base62(22)}`;
export const newMcpToolUseId = () => `mcptoolu_01${base62(22)}`;

/**
 * The same shape as the others, but the first 8 of the 22 characters are the time (then 14
 * random ones, 83 bits). Usage rows are keyed by request id: a random key sends each insert to a
 * random page of the key's index, which stops fitting SQLite's page cache as the table grows
 * (10 µs per row at 50,000 rows, 25 µs at 600,000); a time-ordered one lands at its end (5 µs
 * per row, flat). PostgreSQL gains less while the index fits its buffers: 37–43 µs against 46–65 µs
 * of wall time per row written, up to 600,000 rows.
 */
export const newRequestId = () => `req_01${timePrefix(Date.now())}${base62(14)}`;
