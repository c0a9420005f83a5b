/** What Parley tells Claude Code about the model it serves. */
export interface ServedModel {
  /** The id Claude Code sends (ANTHROPIC_MODEL). */
  id: string;
  /** Prompt plus reply tokens the model serves (`max_input_tokens` in GET /v1/models). */
  contextWindow: number | null;
  /** The longest reply it gives (`max_tokens` in GET /v1/models). */
  maxOutputTokens: number | null;
}

export interface LaunchTarget {
  baseUrl: string;
  /** Sent as ANTHROPIC_AUTH_TOKEN (a Bearer token): in the environment, never in the argument list. */
  key: string;
  model: ServedModel;
  /** The model for Claude Code's small/fast and sub-agent calls; the main model unless told. */
  smallModel?: string;
  /** A Parley-owned CLAUDE_CONFIG_DIR, when the user's own has not completed onboarding. */
  configDir?: string;
}

/**
 * Claude Code 2.1.332 reads the auto-compact window only at 100,000 tokens or more (a smaller
 * value "reads as the 100k minimum"), so a smaller window is told through
 * CLAUDE_CODE_MAX_CONTEXT_TOKENS alone, which it uses for a model id it does not know.
 */
export const MIN_AUTO_COMPACT_WINDOW = 100_000;

/** Tuning a user may have set on purpose: their value stays. */
const USER_TUNABLE = [
  "CLAUDE_CODE_MAX_CONTEXT_TOKENS",
  "CLAUDE_CODE_AUTO_COMPACT_WINDOW",
  "CLAUDE_CODE_MAX_OUTPUT_TOKENS",
] as const;

/**
 * The environment Claude Code runs with (names as Claude Code 2.1.332 reads them): Parley's
 * address and key, the model for every role, its true window and output limit, and no
 * telemetry or other traffic to Anthropic. An ANTHROPIC_API_KEY from the user's shell is
 * dropped so Claude Code does not send it (or ask about it) instead of Parley's key.
 */
export function claudeEnvironment(base: NodeJS.ProcessEnv, t: LaunchTarget): NodeJS.ProcessEnv {
  const small = t.smallModel ?? t.model.id;
  const tuned: Record<string, string> = {};
  const window = t.model.contextWindow;
  if (window) {
    tuned.CLAUDE_CODE_MAX_CONTEXT_TOKENS = String(window);
    if (window >= MIN_AUTO_COMPACT_WINDOW) tuned.CLAUDE_CODE_AUTO_COMPACT_WINDOW = String(window);
  }
  if (t.model.maxOutputTokens) tuned.CLAUDE_CODE_MAX_OUTPUT_TOKENS = String(t.model.maxOutputTokens);
  for (const name of USER_TUNABLE) if (base[name]) tuned[name] = base[name] as string;
  const env: NodeJS.ProcessEnv = {
    ...base,
    ANTHROPIC_BASE_URL: t.baseUrl,
    ANTHROPIC_AUTH_TOKEN: t.key,
    ANTHROPIC_MODEL: t.model.id,
    ANTHROPIC_DEFAULT_OPUS_MODEL: t.model.id,
    ANTHROPIC_DEFAULT_SONNET_MODEL: t.model.id,
    ANTHROPIC_DEFAULT_HAIKU_MODEL: small,
    ANTHROPIC_SMALL_FAST_MODEL: small,
    CLAUDE_CODE_SUBAGENT_MODEL: t.model.id,
    ...tuned,
    DISABLE_TELEMETRY: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    ...(t.configDir ? { CLAUDE_CONFIG_DIR: t.configDir } : {}),
  };
  delete env.ANTHROPIC_API_KEY;
  return env;
}

/** Our own flags, taken out of the argument list; everything else goes to Claude Code unchanged. */
export interface LauncherArgs {
  model?: string;
  config?: string;
  dataDir?: string;
  help: boolean;
  claudeArgs: string[];
}

const OWN_FLAGS: Record<string, "model" | "config" | "dataDir"> = {
  "--model": "model",
  "--parley-config": "config",
  "--parley-data-dir": "dataDir",
};

export function splitArgs(argv: readonly string[]): LauncherArgs {
  const out: LauncherArgs = { help: false, claudeArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      out.claudeArgs.push(...argv.slice(i));
      break;
    }
    if (arg === "--parley-help") {
      out.help = true;
      continue;
    }
    const [flag, inline] = arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const own = OWN_FLAGS[flag];
    if (!own) {
      out.claudeArgs.push(arg);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    out[own] = value;
  }
  return out;
}

/** Whether Claude Code runs a one-shot prompt (no dialogs, no auto-mode classifier). */
export const isPrintMode = (args: readonly string[]) => args.some((a) => a === "-p" || a === "--print");

/** Whether the user chose how tool calls are approved. */
export const choosesPermissions = (args: readonly string[]) =>
  args.some(
    (a) =>
      a === "--permission-mode" ||
      a.startsWith("--permission-mode=") ||
      a === "--dangerously-skip-permissions",
  );
