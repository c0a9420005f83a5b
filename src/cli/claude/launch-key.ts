import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { hashKey } from "../../auth/index.ts";
import type { Config, ModelConfig } from "../../config/index.ts";
import { Store } from "../../store/index.ts";

/**
 * The key `parley claude` uses for a model: created on first use in the configured store (held
 * there only as a hash, like any key), scoped to that model's names, and kept for later runs in
 * `<data_dir>/claude/<model>.key` (mode 0600). It reaches Claude Code through its environment,
 * never its argument list. A key that was revoked since is replaced.
 */
export async function launchKey(
  config: Config,
  model: ModelConfig,
): Promise<{ key: string; created: boolean }> {
  const dir = join(config.data_dir, "claude");
  const file = join(dir, `${model.id.replace(/[^A-Za-z0-9._-]/g, "_")}.key`);
  const saved = await readFile(file, "utf8").then(
    (s) => s.trim(),
    () => undefined,
  );
  const store = await Store.open(config.storage);
  try {
    if (saved) {
      const found = await store.keys.findByHash(hashKey(saved).toString("hex"));
      if (found?.key.status === "active") return { key: saved, created: false };
    }
    const { secret } = await store.keys.create({
      name: `parley claude (${model.id})`,
      models: [model.id, ...(model.aliases ?? [])],
      created_by: "parley claude",
    });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(file, `${secret}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
    return { key: secret, created: true };
  } finally {
    await store.close();
  }
}
