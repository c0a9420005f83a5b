import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { compileValidator } from "../protocol/index.ts";
import { type Config, ConfigFile, type ModelConfig } from "./schema.ts";

/** A config that cannot be used; the message names the source and the field. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface ConfigOverrides {
  config?: string;
  host?: string;
  port?: number;
  dataDir?: string;
}

const validateFile = compileValidator(ConfigFile);

/**
 * The models served when the config names none: a small instruct model run in-process
 * (downloaded once on first use into <data_dir>/models, so a bare start is instant and never
 * downloads; when it cannot be had it is listed unavailable with the reason) and the mock.
 */
export function defaultModels(): ModelConfig[] {
  return [
    {
      id: "qwen2.5-0.5b-instruct",
      aliases: ["local", "default"],
      display_name: "Qwen2.5 0.5B Instruct (local, Q4_K_M)",
      provider: "llama",
      path: "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf",
      load: "lazy",
      context_window: 8192,
      max_output_tokens: 4096,
      parallel: 4,
    },
    { id: "mock", provider: "mock", display_name: "Parley mock (echo)" },
    claudeCodeModel(),
  ];
}

/** The name `parley claude` uses when neither `--model` nor `claude_code_model` says otherwise. */
export const CLAUDE_CODE_ALIAS = "claude-code";

/**
 * The built-in model for Claude Code: a 4B instruct model with reliable function calling whose
 * 32k window holds Claude Code's first request (about 12k tokens: system prompt, 12 tools,
 * reminders) and the turns after it. Lazy: nothing is downloaded until it is used or pulled
 * (`parley models pull claude-code`). Two slots with a q8_0 KV cache take about 2.4 GB each
 * beside 2.5 GB of weights; the load log says what was allocated (see memory-plan.ts). Its id
 * contains "claude" so Claude Code's gateway model discovery lists it.
 */
function claudeCodeModel(): ModelConfig {
  return {
    id: "qwen3-4b-instruct-2507-claude-code",
    aliases: [CLAUDE_CODE_ALIAS, "qwen3-4b"],
    display_name: "Qwen3 4B Instruct 2507 (local, Q4_K_M, 32k window) for Claude Code",
    provider: "llama",
    path: "hf:unsloth/Qwen3-4B-Instruct-2507-GGUF/Qwen3-4B-Instruct-2507-Q4_K_M.gguf",
    load: "lazy",
    context_window: 32768,
    max_output_tokens: 8192,
    parallel: 2,
    kv_cache_type: "q8_0",
    temperature: 0.7,
  };
}

/** Flags beat environment variables, which beat the file, which beats the defaults. */
export async function loadConfig(overrides: ConfigOverrides = {}, env = process.env): Promise<Config> {
  const path = overrides.config ?? env.PARLEY_CONFIG;
  const source = path ? resolve(path) : "built-in defaults";
  const file = path ? await readConfigFile(source, env) : {};
  return buildConfig(file, overrides, env, source);
}

/** Validates an already-parsed config object (also used by tests and embedders). */
export function buildConfig(
  raw: unknown,
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = {},
  source = "config",
): Config {
  const checked = validateFile(raw ?? {});
  if (!checked.ok) throw new ConfigError(`Invalid config (${source}): ${checked.message}`);
  const file = (raw ?? {}) as ConfigFile;
  const dataDir = overrides.dataDir ?? env.PARLEY_DATA_DIR ?? file.data_dir ?? "./.parley";
  const port = overrides.port ?? parsePort(env.PARLEY_PORT, source) ?? file.listen?.port ?? 8787;
  const config: Config = {
    listen: { host: overrides.host ?? env.PARLEY_HOST ?? file.listen?.host ?? "127.0.0.1", port },
    data_dir: resolve(dataDir),
    log_level: file.log_level ?? (env.PARLEY_LOG_LEVEL as Config["log_level"] | undefined) ?? "info",
    storage: file.storage ?? `sqlite:${resolve(dataDir, "parley.db")}`,
    limits: file.limits ?? "memory",
    limits_on_failure: file.limits_on_failure ?? "open",
    keys: file.keys ?? [],
    // A file that names `${PARLEY_ADMIN_KEY}` itself (deploy/parley.yaml) gets it once.
    admin_keys: [...new Set([...(file.admin_keys ?? []), ...adminKeyFromEnv(env.PARLEY_ADMIN_KEY, source)])],
    server: {
      body_limit_mb: file.server?.body_limit_mb ?? 32,
      ping_interval_ms: file.server?.ping_interval_ms ?? 10_000,
      shutdown_timeout_ms: file.server?.shutdown_timeout_ms ?? 10_000,
      body_timeout_ms: file.server?.body_timeout_ms ?? 300_000,
      idle_timeout_ms: file.server?.idle_timeout_ms ?? 60_000,
      start_attempts: file.server?.start_attempts ?? 5,
      start_retry_ms: file.server?.start_retry_ms ?? 1000,
    },
    models: file.models ?? defaultModels(),
    claude_code_model: file.claude_code_model,
    public_url: file.public_url?.replace(/\/+$/, ""),
    batches: {
      enabled: file.batches?.enabled ?? true,
      poll_interval_ms: file.batches?.poll_interval_ms ?? 250,
      lease_ms: file.batches?.lease_ms ?? 30_000,
      max_requests: file.batches?.max_requests ?? 100_000,
      max_body_mb: file.batches?.max_body_mb ?? 256,
      expiry_hours: file.batches?.expiry_hours ?? 24,
      retention_days: file.batches?.retention_days ?? 29,
      max_attempts: file.batches?.max_attempts ?? 5,
    },
    files: {
      dir: resolve(file.files?.dir ?? resolve(dataDir, "files")),
      max_file_mb: file.files?.max_file_mb ?? 500,
      allow_downloads: file.files?.allow_downloads ?? false,
    },
    mcp: {
      allowed_hosts: file.mcp?.allowed_hosts,
      connect_timeout_ms: file.mcp?.connect_timeout_ms ?? 10_000,
      list_timeout_ms: file.mcp?.list_timeout_ms ?? 10_000,
      call_timeout_ms: file.mcp?.call_timeout_ms ?? 60_000,
      tool_list_ttl_ms: file.mcp?.tool_list_ttl_ms ?? 60_000,
      max_iterations: file.mcp?.max_iterations ?? 10,
      max_loop_ms: file.mcp?.max_loop_ms ?? 300_000,
      max_result_bytes: file.mcp?.max_result_bytes ?? 100_000,
    },
    metrics: {
      enabled: file.metrics?.enabled ?? true,
      require_admin_key: file.metrics?.require_admin_key ?? false,
    },
    source,
  };
  checkModelNames(config.models, source);
  return config;
}

async function readConfigFile(path: string, env: NodeJS.ProcessEnv): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(`Cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new ConfigError(`Cannot parse config file ${path}: ${(err as Error).message}`);
  }
  return expandEnv(parsed, env, path, []);
}

/** Replaces `${NAME}` in string values with the environment variable, so secrets stay out of files. */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, source: string, at: string[]): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined) {
        throw new ConfigError(
          `Invalid config (${source}): ${at.join(".")}: environment variable ${name} is not set`,
        );
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, source, [...at, String(i)]));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, source, [...at, k])]),
    );
  }
  return value;
}

/** PARLEY_ADMIN_KEY adds one admin key, so a fresh `npm start` can open the console without a file. */
function adminKeyFromEnv(value: string | undefined, source: string): string[] {
  if (value === undefined || value === "") return [];
  if (value.length < 8)
    throw new ConfigError(`Invalid config (${source}): PARLEY_ADMIN_KEY: must be at least 8 characters`);
  return [value];
}

function parsePort(value: string | undefined, source: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ConfigError(`Invalid config (${source}): PARLEY_PORT: '${value}' is not a port number`);
  }
  return n;
}

function checkModelNames(models: ModelConfig[], source: string): void {
  const seen = new Map<string, number>();
  models.forEach((m, i) => {
    for (const name of [m.id, ...(m.aliases ?? [])]) {
      const other = seen.get(name);
      if (other !== undefined) {
        throw new ConfigError(
          `Invalid config (${source}): models.${i}: name '${name}' is already used by models.${other}`,
        );
      }
      seen.set(name, i);
    }
  });
  models.forEach((m, i) => {
    const compactor = m.context_management?.compaction_model;
    if (compactor !== undefined && !seen.has(compactor)) {
      throw new ConfigError(
        `Invalid config (${source}): models.${i}.context_management.compaction_model: unknown model '${compactor}'`,
      );
    }
    const share = [m.context_management?.trigger, m.context_management?.clear_at_least].some(
      (v) => typeof v === "string",
    );
    if (share && m.context_window === undefined) {
      throw new ConfigError(
        `Invalid config (${source}): models.${i}.context_management: a share like "85%" needs context_window`,
      );
    }
  });
  models.forEach((m, i) => {
    if (m.provider !== "openai" && m.provider !== "anthropic") return;
    for (const f of m.fallbacks ?? []) {
      if (!seen.has(f))
        throw new ConfigError(`Invalid config (${source}): models.${i}.fallbacks: unknown model '${f}'`);
    }
  });
}
