import { mkdir, readFile, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Claude Code's onboarding needs the hosted API, so on a machine that cannot reach it the first
 * interactive start exits before it talks to Parley unless `.claude.json` says
 * `"hasCompletedOnboarding": true`. The launcher leaves a user's finished setup alone, and
 * otherwise runs Claude Code with a config dir of Parley's own where onboarding is marked done.
 */
export async function claudeConfigDir(
  env: NodeJS.ProcessEnv,
  dataDir: string,
): Promise<{ dir?: string; notice?: string }> {
  const own = env.CLAUDE_CONFIG_DIR;
  const file = own ? join(own, ".claude.json") : join(env.HOME || homedir(), ".claude.json");
  if (await onboarded(file)) return {};
  const dir = join(dataDir, "claude", "config");
  const parleyFile = join(dir, ".claude.json");
  if (!(await onboarded(parleyFile))) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const existing = await readJson(parleyFile);
    await writeFile(
      parleyFile,
      `${JSON.stringify({ ...existing, hasCompletedOnboarding: true }, null, 2)}\n`,
    );
  }
  return {
    dir,
    notice:
      `parley: ${file} has not completed Claude Code's onboarding (which needs the hosted API), so Claude Code ` +
      `runs with CLAUDE_CONFIG_DIR=${dir}, where it is marked done. Its settings and sessions are kept there.`,
  };
}

async function onboarded(file: string): Promise<boolean> {
  return (await readJson(file)).hasCompletedOnboarding === true;
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  try {
    const value = JSON.parse(await readFile(file, "utf8")) as unknown;
    return value && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** Shown once per data dir before the first interactive session. */
export const AUTO_MODE_NOTICE = [
  "parley: about Claude Code's permission modes behind Parley:",
  "  Auto mode (Claude Code's default) asks the server to classify tool calls its local rules do not",
  "  allow, such as a write outside the working folder. Parley has no classifier and does not pretend",
  '  to have one, so such a call stops at "Auto mode can\'t check actions in this session" and waits',
  "  for you; calls the local rules allow run as usual.",
  "  To approve each call yourself: `parley claude --permission-mode default` (or acceptEdits), press",
  "  Shift+Tab in the session to cycle modes, or set permissions.defaultMode in Claude Code's settings.",
].join("\n");

/** Whether the notice is due, recording that it was shown. */
export async function firstAutoModeNotice(dataDir: string): Promise<boolean> {
  const marker = join(dataDir, "claude", "auto-mode-notice-shown");
  try {
    await readFile(marker);
    return false;
  } catch {
    await mkdir(join(dataDir, "claude"), { recursive: true });
    await writeFile(marker, `${new Date().toISOString()}\n`);
    return true;
  }
}
