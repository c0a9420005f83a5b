import { execFile } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";

/** How to get Claude Code when it is not found. */
export const INSTALL_HINT =
  "Claude Code is not installed. Install it with `npm install -g @anthropic-ai/claude-code` " +
  "(or `npm install --save-dev @anthropic-ai/claude-code` in this project), or set PARLEY_CLAUDE_BIN to its path.";

/**
 * Finds the `claude` executable: PARLEY_CLAUDE_BIN, then PATH, then this project's (and its
 * parents') node_modules/.bin, then the user's npm global prefix and the native installer's
 * places. Undefined when it is nowhere.
 */
export async function findClaude(
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Promise<string | undefined> {
  if (env.PARLEY_CLAUDE_BIN)
    return (await isExecutable(env.PARLEY_CLAUDE_BIN)) ? resolve(env.PARLEY_CLAUDE_BIN) : undefined;
  const near = [
    ...(env.PATH ?? "")
      .split(delimiter)
      .filter(Boolean)
      .map((d) => join(d, "claude")),
    ...ancestors(cwd).map((d) => join(d, "node_modules", ".bin", "claude")),
  ];
  for (const file of near) if (await isExecutable(file)) return file;
  // Asking npm for its prefix takes a moment, so only when the usual places have nothing.
  const far = [
    ...(await npmPrefixBins(env)),
    join(homedir(), ".local", "bin", "claude"),
    join(homedir(), ".claude", "local", "claude"),
  ];
  for (const file of far) if (await isExecutable(file)) return file;
  return undefined;
}

function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    out.push(d);
    if (dirname(d) === d) return out;
  }
}

/** `<prefix>/bin` of the user's npm (npm_config_prefix, or `npm prefix -g` when npm is there). */
async function npmPrefixBins(env: NodeJS.ProcessEnv): Promise<string[]> {
  const prefixes = new Set<string>();
  if (env.npm_config_prefix) prefixes.add(env.npm_config_prefix);
  prefixes.add(join(homedir(), ".npm-global"));
  const global = await new Promise<string | undefined>((done) => {
    execFile("npm", ["prefix", "-g"], { env, timeout: 5_000 }, (err, stdout) =>
      done(err ? undefined : stdout.trim() || undefined),
    );
  });
  if (global) prefixes.add(global);
  return [...prefixes].map((p) => join(p, "bin", "claude"));
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
