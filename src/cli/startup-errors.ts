import { ConfigError } from "../config/index.ts";
import { errorCode, StartupFailure } from "../server/startup.ts";

/**
 * The one line `parley serve` prints when it cannot start: what failed, and how to fix it. Pure:
 * an error in, a line out (table-tested in test/unit/startup-errors.test.ts).
 */
export function describeStartupError(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  if (err instanceof StartupFailure) return describeFailure(err);
  return reason(err);
}

/** The line printed before PostgreSQL or Redis is tried again. */
export function describeRetry(
  failure: StartupFailure,
  next: number,
  attempts: number,
  delayMs: number,
): string {
  return `${failure.service} at ${failure.target} not reachable (${reason(failure.cause)}), retrying in ${duration(delayMs)} (${next}/${attempts})`;
}

const DATA_DIR_FLAGS = "choose another with --data-dir or PARLEY_DATA_DIR";
const NOT_WRITABLE = new Set(["EACCES", "EPERM", "EROFS", "SQLITE_READONLY", "SQLITE_CANTOPEN"]);
const NOT_A_DATABASE = new Set(["SQLITE_NOTADB", "SQLITE_CORRUPT"]);
const UNREACHABLE_FIX: Record<string, string> = {
  PostgreSQL: "start it, or fix `storage:` in the config",
  Redis: "start it, or fix `limits:` in the config (`limits: memory` keeps limits in this process)",
};

function describeFailure(f: StartupFailure): string {
  const code = errorCode(f.cause);
  const why = reason(f.cause);
  switch (f.step) {
    case "data_dir":
      if (code === "ENOTDIR" || code === "EEXIST")
        return `data dir ${f.target} cannot be created: part of that path is a regular file (${code}); move the file away or ${DATA_DIR_FLAGS}`;
      if (code && NOT_WRITABLE.has(code))
        return `data dir ${f.target} is not writable (${why}); make it writable or ${DATA_DIR_FLAGS}`;
      return `data dir ${f.target} cannot be used (${why}); ${DATA_DIR_FLAGS}`;
    case "store":
      if (f.service === "SQLite") return describeSqlite(f.target, code, why);
      if (f.attempts > 1)
        return `${f.service} at ${f.target} not reachable (${why}) after ${f.attempts} tries; ${UNREACHABLE_FIX.PostgreSQL}`;
      return `${f.service} at ${f.target} refused Parley (${why}); fix \`storage:\` in the config`;
    case "limits":
      if (f.service === "Redis" && f.attempts > 1)
        return `Redis at ${f.target} not reachable (${why}) after ${f.attempts} tries; ${UNREACHABLE_FIX.Redis}`;
      return `the rate limiter ${f.target} cannot be used (${why}); fix \`limits:\` in the config`;
    case "listen":
      if (code === "EADDRINUSE")
        return `cannot listen on ${f.target}: the address is already in use (EADDRINUSE); stop what holds it, or choose another port with --port or PARLEY_PORT`;
      if (code === "EACCES")
        return `cannot listen on ${f.target}: permission denied (EACCES; ports below 1024 need privileges); choose another port with --port or PARLEY_PORT`;
      if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND")
        return `cannot listen on ${f.target}: no such address on this machine (${code}); choose another with --host or PARLEY_HOST`;
      return `cannot listen on ${f.target} (${why}); choose another address with --host/--port or PARLEY_HOST/PARLEY_PORT`;
  }
}

function describeSqlite(file: string, code: string | undefined, why: string): string {
  if (code && NOT_A_DATABASE.has(code))
    return `the store ${file} is not a readable SQLite database (${why}); restore it from a backup, or move it away to start with an empty store`;
  if (code && NOT_WRITABLE.has(code))
    return `the store ${file} cannot be written (${why}); make its directory writable, ${DATA_DIR_FLAGS}, or set \`storage:\` in the config`;
  return `the store ${file} cannot be opened (${why}); restore it from a backup, or set \`storage:\` in the config`;
}

/** `ECONNREFUSED`, or `SQLITE_CORRUPT: database disk image is malformed`: code first, one line. */
function reason(err: unknown): string {
  const code = errorCode(err);
  const message = firstLine(err instanceof Error ? err.message : String(err));
  if (!code) return message || "unknown error";
  // Node's file errors read "ENOTDIR: not a directory, mkdir '/x'": the code and the human part.
  // Its socket errors ("connect ECONNREFUSED 127.0.0.1:1") add nothing the code does not say.
  if (/^E[A-Z]+$/.test(code)) {
    const human = message.startsWith(`${code}: `) ? message.slice(code.length + 2).replace(/,\s.*$/, "") : "";
    return human ? `${code}: ${human}` : code;
  }
  if (/^SQLITE_/.test(code)) return `${code}: ${message}`;
  return message ? `${message} (${code})` : code;
}

const firstLine = (s: string) => s.split("\n")[0].trim();

const duration = (ms: number) => (ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`);
