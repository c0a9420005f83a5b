import { spawn } from "node:child_process";
import type { Command } from "commander";
import {
  CLAUDE_CODE_ALIAS,
  type Config,
  ConfigError,
  loadConfig,
  type ModelConfig,
} from "../../config/index.ts";
import { AUTO_MODE_NOTICE, claudeConfigDir, firstAutoModeNotice } from "./config-dir.ts";
import {
  choosesPermissions,
  claudeEnvironment,
  isPrintMode,
  type ServedModel,
  splitArgs,
} from "./environment.ts";
import { findClaude, INSTALL_HINT } from "./find-claude.ts";
import { launchKey } from "./launch-key.ts";
import { type SessionServer, sessionServer } from "./parley-server.ts";

export { claudeEnvironment, MIN_AUTO_COMPACT_WINDOW, splitArgs } from "./environment.ts";

const HELP = `Usage: parley claude [--model NAME] [--parley-config FILE] [--parley-data-dir DIR] [claude args…]

Runs Claude Code against Parley: the running server at the config's listen address, or one
started for the session and stopped afterwards. Every other argument goes to Claude Code.

  --model NAME           the Parley model (id or alias); default: claude_code_model, else ${CLAUDE_CODE_ALIAS}
  --parley-config FILE   Parley's config (env PARLEY_CONFIG)
  --parley-data-dir DIR  Parley's data dir (env PARLEY_DATA_DIR)
  --parley-help          this help (claude --help is Claude Code's)
`;

type Print = (text: string) => void;

/** `parley claude [claude args…]`: Claude Code on a Parley model, told the truth about it. */
export function registerClaude(program: Command): void {
  program
    .command("claude")
    .description("run Claude Code against Parley (parley claude --parley-help)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]")
    .action(async (args: string[]) => {
      process.exitCode = await runClaude(args);
    });
}

/** Runs Claude Code and resolves with its exit code (128 + signal when a signal ended it). */
export async function runClaude(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  say: Print = (t) => process.stderr.write(`${t}\n`),
): Promise<number> {
  const args = splitArgs(argv);
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const claude = await findClaude(env);
  if (!claude) {
    say(`parley: ${INSTALL_HINT}`);
    return 127;
  }
  const config = await loadConfig({ config: args.config, dataDir: args.dataDir }, env);
  const model = chooseModel(config, args.model);
  const { key, created } = await launchKey(config, model);
  if (created)
    say(`parley: created an API key for ${model.id} (kept in ${config.data_dir}/claude, stored hashed)`);
  let server: SessionServer;
  try {
    server = await sessionServer(config, args.config ?? env.PARLEY_CONFIG, env);
  } catch (err) {
    say(`parley: ${(err as Error).message}`);
    return 1;
  }
  try {
    if (server.started) say(`parley: started Parley at ${server.url} for this session`);
    const served = await servedModel(server, key, model);
    const { dir, notice } = await claudeConfigDir(env, config.data_dir);
    if (notice) say(notice);
    if (
      !isPrintMode(args.claudeArgs) &&
      !choosesPermissions(args.claudeArgs) &&
      (await firstAutoModeNotice(config.data_dir))
    )
      say(AUTO_MODE_NOTICE);
    const childEnv = claudeEnvironment(env, { baseUrl: server.url, key, model: served, configDir: dir });
    return await runChild(claude, args.claudeArgs, childEnv);
  } finally {
    await server.stop();
  }
}

function chooseModel(config: Config, asked: string | undefined): ModelConfig {
  const name = asked ?? config.claude_code_model ?? CLAUDE_CODE_ALIAS;
  const found = config.models.find((m) => m.id === name || m.aliases?.includes(name));
  if (found) return found;
  if (asked || config.claude_code_model) {
    throw new ConfigError(
      `parley claude: no model is named '${name}' in ${config.source} (models: ${config.models.map((m) => m.id).join(", ")})`,
    );
  }
  const first = config.models[0];
  if (!first) throw new ConfigError(`parley claude: ${config.source} serves no models`);
  return first;
}

/** The model as the server describes it: the window and output limit it really serves. */
async function servedModel(server: SessionServer, key: string, model: ModelConfig): Promise<ServedModel> {
  const res = await fetch(`${server.url}/v1/models/${encodeURIComponent(model.id)}`, {
    headers: { authorization: `Bearer ${key}`, "anthropic-version": "2023-06-01" },
  });
  if (res.status === 401) {
    throw new ConfigError(
      `parley claude: the Parley at ${server.url} does not know the launcher's key; it runs with another store. ` +
        "Stop it, or give parley claude the same --parley-config / --parley-data-dir.",
    );
  }
  if (!res.ok)
    throw new ConfigError(`parley claude: ${server.url} answered ${res.status} for model ${model.id}`);
  const info = (await res.json()) as { max_input_tokens: number | null; max_tokens: number | null };
  return { id: model.id, contextWindow: info.max_input_tokens, maxOutputTokens: info.max_tokens };
}

/** Claude Code owns the terminal; Ctrl-C reaches it directly, so the launcher only waits. */
function runChild(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: "inherit", env });
    const ignore = () => {};
    const signals = ["SIGINT", "SIGQUIT"] as const;
    for (const s of signals) process.on(s, ignore);
    const forward = () => child.kill("SIGTERM");
    process.once("SIGTERM", forward);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      for (const s of signals) process.off(s, ignore);
      process.off("SIGTERM", forward);
      resolve(code ?? 128 + (signal ? signalNumber(signal) : 0));
    });
  });
}

const signalNumber = (signal: NodeJS.Signals) =>
  ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 })[signal as string] ?? 1;
