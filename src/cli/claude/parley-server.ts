import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../../config/index.ts";

/** A Parley for the session: one already running, or one this launcher started and will stop. */
export interface SessionServer {
  url: string;
  /** True when the launcher started it. */
  started: boolean;
  stop(): Promise<void>;
}

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const START_TIMEOUT_MS = 60_000;

/** The address a client uses for the configured listen address (a wildcard means this machine). */
export function clientUrl(config: Config): string {
  const host = config.listen.host;
  const reach = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${reach.includes(":") ? `[${reach}]` : reach}:${config.listen.port}`;
}

/** Whether a Parley answers at `url` (GET / names itself). */
export async function isParley(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_500) });
    const body = (await res.json()) as { name?: unknown };
    return body.name === "parley";
  } catch {
    return false;
  }
}

/**
 * The running Parley at the config's listen address, or a new one started in the background
 * with the same config on a free port of the same host. Its log goes to
 * `<data_dir>/claude/server.log`, so the terminal stays Claude Code's.
 */
export async function sessionServer(
  config: Config,
  configFile: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SessionServer> {
  const running = clientUrl(config);
  if (await isParley(running)) return { url: running, started: false, stop: async () => {} };
  const logDir = join(config.data_dir, "claude");
  await mkdir(logDir, { recursive: true });
  const log = createWriteStream(join(logDir, "server.log"), { flags: "a" });
  const args = [MAIN, "serve", "--data-dir", config.data_dir, "--host", config.listen.host, "--port", "0"];
  if (configFile) args.push("--config", configFile);
  const child = spawn(process.execPath, [...process.execArgv, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...env, PARLEY_STOP_WITH_PID: String(process.pid) },
  });
  child.stderr?.pipe(log, { end: false });
  const url = await listeningUrl(child, log, join(logDir, "server.log"));
  return { url, started: true, stop: () => stopChild(child, log) };
}

function listeningUrl(child: ChildProcess, log: NodeJS.WritableStream, logFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let pending = "";
    let found = false;
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill("SIGTERM");
      reject(new Error(`Could not start Parley for the session: ${why}. See ${logFile}.`));
    };
    const timer = setTimeout(() => fail(`no answer within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    child.once("exit", (code) => {
      if (!found) fail(`it exited with code ${code}`);
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      log.write(chunk);
      if (found) return;
      const lines = (pending + chunk.toString("utf8")).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const url = /"msg":"parley listening"/.test(line) ? /"url":"(http[^"]+)"/.exec(line)?.[1] : undefined;
        if (url) {
          found = true;
          clearTimeout(timer);
          resolve(url);
        }
      }
    });
  });
}

async function stopChild(child: ChildProcess, log: NodeJS.WritableStream): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }
  await new Promise<void>((r) => log.end(r));
}
