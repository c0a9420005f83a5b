import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { hashKey, keyHint, newSecretKey } from "./hash.ts";

export interface BootstrapKey {
  /** SHA-256 of the key, hex. */
  hash: string;
  hint: string;
  /** The key itself, only when it was created just now (shown once, never stored). */
  created?: string;
}

/**
 * With no keys configured, Parley still needs one: it creates a key on first start, keeps only
 * its hash in the data dir, and hands the plain key back once so the CLI can print it.
 */
export async function loadOrCreateBootstrapKey(dataDir: string): Promise<BootstrapKey> {
  const file = join(dataDir, "bootstrap-key.json");
  try {
    const stored = JSON.parse(await readFile(file, "utf8")) as BootstrapKey;
    if (typeof stored.hash === "string" && stored.hash.length === 64)
      return { hash: stored.hash, hint: stored.hint };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const key = newSecretKey();
  const record = { hash: hashKey(key).toString("hex"), hint: keyHint(key) };
  await writeFile(file, `${JSON.stringify({ ...record, created_at: new Date().toISOString() }, null, 2)}\n`, {
    mode: 0o600,
    flag: "wx",
  });
  return { ...record, created: key };
}
