import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The console folder; `dist/` inside it is the build output. */
export const CONSOLE_DIR = fileURLToPath(new URL(".", import.meta.url));
const ROOT = join(CONSOLE_DIR, "..");
/** Front-end packages whose versions change the build. */
const PACKAGES = ["preact", "uplot", "vite", "eventsource-parser"];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/**
 * A hash of everything the console is built from: its sources, index.html, the build config and the
 * locked versions of its packages. The build writes it into dist/, and a test compares, so a
 * committed dist/ that lags the sources fails `npm test`.
 */
export function consoleSourceHash(): string {
  const hash = createHash("sha256");
  const inputs = [
    ...files(join(CONSOLE_DIR, "src")),
    join(CONSOLE_DIR, "index.html"),
    join(CONSOLE_DIR, "vite.config.ts"),
  ].sort();
  for (const path of inputs) {
    // Line endings normalised so a checkout with CRLF hashes the same.
    const text = readFileSync(path, "utf8").replace(/\r\n/g, "\n");
    hash.update(`${relative(ROOT, path).split("\\").join("/")}\0${text}\0`);
  }
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version?: string }>;
  };
  for (const name of PACKAGES) hash.update(`${name}@${lock.packages[`node_modules/${name}`]?.version}\0`);
  return hash.digest("hex");
}
