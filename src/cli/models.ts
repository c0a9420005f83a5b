import { join } from "node:path";
import type { Command } from "commander";
import { type Config, ConfigError, loadConfig, type ModelConfig } from "../config/index.ts";

interface ModelsFlags {
  config?: string;
  dataDir?: string;
  json?: boolean;
}

type Print = (text: string) => void;

/** `parley models list|pull`: the configured catalogue, and downloading a local model ahead of use. */
export function registerModels(program: Command, print: Print = (t) => process.stdout.write(t)): void {
  const models = program.command("models").description("list the configured models, download local ones");
  const options = (c: Command) =>
    c
      .option("-c, --config <file>", "config file (env PARLEY_CONFIG; default: the built-in models)")
      .option("--data-dir <dir>", "data dir holding downloaded models (env PARLEY_DATA_DIR)");
  options(models.command("list").description("show every model entry and whether its file is here"))
    .option("--json", "print JSON")
    .action(async (flags: ModelsFlags) => listModels(await configFor(flags), flags, print));
  options(
    models
      .command("pull <name>")
      .description("download a local (hf:) model now, with progress, instead of on first use"),
  ).action(async (name: string, flags: ModelsFlags) => pullModel(await configFor(flags), name, print));
}

const configFor = (flags: ModelsFlags) => loadConfig({ config: flags.config, dataDir: flags.dataDir });

interface ModelRow {
  id: string;
  aliases: string[];
  provider: ModelConfig["provider"];
  context_window: number | null;
  max_output_tokens: number | null;
  source: string | null;
  /** local: the file is here; missing: it is not (pull it); remote: served elsewhere. */
  state: "local" | "missing" | "remote";
  file?: string;
}

async function listModels(config: Config, flags: ModelsFlags, print: Print): Promise<void> {
  const rows = await Promise.all(config.models.map((m) => describeModel(config, m)));
  if (flags.json) {
    print(`${JSON.stringify(rows)}\n`);
    return;
  }
  const table = [
    ["ID", "ALIASES", "PROVIDER", "WINDOW", "MAX OUT", "STATE", "SOURCE"],
    ...rows.map((r) => [
      r.id,
      r.aliases.join(",") || "-",
      r.provider,
      String(r.context_window ?? "-"),
      String(r.max_output_tokens ?? "-"),
      r.state,
      r.source ?? "-",
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  for (const row of table)
    print(
      `${row
        .map((c, i) => c.padEnd(widths[i]))
        .join("  ")
        .trimEnd()}\n`,
    );
  if (rows.some((r) => r.state === "missing"))
    print("\nA missing local model downloads on first use, or now with `parley models pull <id>`.\n");
}

async function describeModel(config: Config, m: ModelConfig): Promise<ModelRow> {
  const row = {
    id: m.id,
    aliases: m.aliases ?? [],
    provider: m.provider,
    context_window: m.context_window ?? null,
    max_output_tokens: m.max_output_tokens ?? null,
  };
  if (m.provider === "llama") {
    const file = await localFile(config, m.path, false).catch(() => undefined);
    return { ...row, source: m.path, state: file ? "local" : "missing", ...(file ? { file } : {}) };
  }
  if (m.provider === "mock") return { ...row, source: null, state: "local" };
  const base = Array.isArray(m.base_url) ? m.base_url.join(",") : m.base_url;
  return { ...row, source: base, state: "remote" };
}

/** node-llama-cpp is loaded only when a local model is looked at. */
const llamaFiles = () => import("../providers/llama/model-file.ts");

const localFile = async (config: Config, path: string, download: boolean) =>
  (await llamaFiles()).locateModelFile({
    path,
    cacheDir: join(config.data_dir, "models"),
    modelsDir: process.env.PARLEY_MODELS_DIR || undefined,
    download,
  });

async function pullModel(config: Config, name: string, print: Print): Promise<void> {
  const m = config.models.find((e) => e.id === name || e.aliases?.includes(name));
  if (!m) {
    const names = config.models.map((e) => e.id).join(", ");
    throw new ConfigError(`models pull: no model is named '${name}' (configured: ${names})`);
  }
  if (m.provider !== "llama")
    throw new ConfigError(
      `models pull: ${m.id} is served by ${m.provider}; only local (llama) models have a file`,
    );
  print(`Getting ${m.id} from ${m.path} …\n`);
  try {
    const file = await localFile(config, m.path, true);
    print(`${m.id} is ready: ${file}\n`);
  } catch (err) {
    if (err instanceof (await llamaFiles()).ModelFileError)
      throw new ConfigError(`models pull ${m.id}: ${err.message}`);
    throw err;
  }
}
