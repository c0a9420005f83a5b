import { type Command, InvalidArgumentError } from "commander";
import type { KeyLimits } from "../auth/index.ts";
import { ConfigError, loadConfig } from "../config/index.ts";
import { type ApiKey, type KeyStatus, Store } from "../store/index.ts";
import { parseHostEntry } from "../tools/index.ts";

interface StoreFlags {
  config?: string;
  dataDir?: string;
  json?: boolean;
}

interface CreateFlags extends StoreFlags {
  name: string;
  workspace?: string;
  models?: string[];
  rpm?: number;
  tpm?: number;
  inputTpm?: number;
  outputTpm?: number;
  monthlyTokens?: number;
  mcpAllowedHosts?: string[];
}

type Print = (text: string) => void;

const positiveInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`'${value}' is not a positive whole number`);
  return n;
};
const hosts = (value: string): string[] =>
  list(value).map((h) => {
    try {
      parseHostEntry(h);
      return h;
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  });
const list = (value: string): string[] =>
  value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * `parley keys create|list|revoke`: manage API keys in the configured store directly (no server needed;
 * a running server sees changes within its key cache time, under a second).
 */
export function registerKeys(program: Command, print: Print = (t) => process.stdout.write(t)): void {
  const keys = program.command("keys").description("create, list and revoke API keys");
  const storeOptions = (c: Command) =>
    c
      .option("-c, --config <file>", "config file naming the storage (env PARLEY_CONFIG)")
      .option("--data-dir <dir>", "data dir holding the default SQLite store (env PARLEY_DATA_DIR)")
      .option("--json", "print JSON");

  storeOptions(
    keys
      .command("create")
      .description("create a key and print it once (only its hash is kept)")
      .requiredOption("-n, --name <name>", "a name for the key")
      .option("-w, --workspace <id-or-name>", "the workspace the key belongs to")
      .option("-m, --models <globs>", "comma-separated model globs it may use (default *)", list)
      .option("--rpm <n>", "requests per minute", positiveInt)
      .option("--tpm <n>", "input + output tokens per minute", positiveInt)
      .option("--input-tpm <n>", "input tokens per minute", positiveInt)
      .option("--output-tpm <n>", "output tokens per minute", positiveInt)
      .option("--monthly-tokens <n>", "input + output tokens per UTC month", positiveInt)
      .option(
        "--mcp-allowed-hosts <hosts>",
        "comma-separated MCP hosts (host or host:port) it is narrowed to",
        hosts,
      ),
  ).action((flags: CreateFlags) => withStore(flags, (store) => create(store, flags, print)));

  storeOptions(
    keys
      .command("list")
      .description("list keys, newest first")
      .option("-s, --status <status>", "only keys with this status (active, inactive, archived)"),
  ).action((flags: StoreFlags & { status?: KeyStatus }) =>
    withStore(flags, (store) => listKeys(store, flags, print)),
  );

  storeOptions(
    keys.command("revoke").description("archive a key for good").argument("<id>", "the key's id"),
  ).action((id: string, flags: StoreFlags) => withStore(flags, (store) => revoke(store, id, flags, print)));
}

async function withStore(flags: StoreFlags, run: (store: Store) => Promise<void>): Promise<void> {
  const config = await loadConfig({ config: flags.config, dataDir: flags.dataDir });
  const store = await Store.open(config.storage);
  try {
    await run(store);
  } finally {
    await store.close();
  }
}

async function create(store: Store, flags: CreateFlags, print: Print): Promise<void> {
  const workspace_id = flags.workspace ? await findWorkspace(store, flags.workspace) : null;
  const limits: KeyLimits = {
    rpm: flags.rpm,
    tpm: flags.tpm,
    input_tpm: flags.inputTpm,
    output_tpm: flags.outputTpm,
    monthly_tokens: flags.monthlyTokens,
  };
  const { key, secret } = await store.keys.create({
    name: flags.name,
    workspace_id,
    models: flags.models,
    limits,
    mcp_allowed_hosts: flags.mcpAllowedHosts,
  });
  if (flags.json) {
    print(`${JSON.stringify({ ...describe(key), key: secret })}\n`);
    return;
  }
  print(`Created API key ${key.id} (${key.name}). It is shown only this once:\n\n    ${secret}\n\n`);
}

async function findWorkspace(store: Store, ref: string): Promise<string> {
  const byId = await store.workspaces.get(ref);
  if (byId && !byId.archived_at) return byId.id;
  const all = await store.workspaces.list({ limit: 1000 });
  const byName = all.data.find((w) => w.name === ref);
  if (!byName) throw new ConfigError(`--workspace: no active workspace has the id or name '${ref}'`);
  return byName.id;
}

async function listKeys(
  store: Store,
  flags: StoreFlags & { status?: KeyStatus },
  print: Print,
): Promise<void> {
  const rows: ApiKey[] = [];
  let after_id: string | undefined;
  for (;;) {
    const page = await store.keys.list({ status: flags.status, limit: 1000, after_id });
    rows.push(...page.data);
    if (!page.has_more || !page.last_id) break;
    after_id = page.last_id;
  }
  if (flags.json) {
    print(`${JSON.stringify(rows.map(describe))}\n`);
    return;
  }
  const table = [
    ["ID", "NAME", "HINT", "STATUS", "WORKSPACE", "LIMITS", "CREATED"],
    ...rows.map((k) => [
      k.id,
      k.name,
      k.hint,
      k.status,
      k.workspace_id ?? "-",
      Object.entries(k.limits)
        .map(([n, v]) => `${n}=${v}`)
        .join(" ") || "-",
      k.created_at.toISOString(),
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  print(
    `${table
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]))
          .join("  ")
          .trimEnd(),
      )
      .join("\n")}\n`,
  );
}

async function revoke(store: Store, id: string, flags: StoreFlags, print: Print): Promise<void> {
  const key = await store.keys.get(id);
  if (!key) throw new ConfigError(`no API key has the id '${id}'`);
  const revoked = await store.keys.update(id, { status: "archived" });
  if (flags.json) print(`${JSON.stringify(describe(revoked ?? key))}\n`);
  else print(`Revoked ${id} (${key.name}); running servers refuse it within a second.\n`);
}

const describe = (k: ApiKey) => ({
  id: k.id,
  name: k.name,
  partial_key_hint: k.hint,
  status: k.status,
  workspace_id: k.workspace_id,
  models: k.models,
  limits: k.limits,
  mcp_allowed_hosts: k.mcp_allowed_hosts,
  created_at: k.created_at.toISOString(),
});
