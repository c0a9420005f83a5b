/**
 * Every way `parley serve` can fail to start ends in one `parley: …` line on stderr that says
 * what failed and how to fix it, no stack trace, and a non-zero exit. Each case spawns the real
 * CLI as an async child process, bounded in time and killed by PID whatever happens.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Store } from "../src/store/index.ts";

const MAIN = join(import.meta.dirname, "../src/cli/main.ts");
const children = new Set<ChildProcess>();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-startup-"));
});
afterAll(async () => {
  for (const child of children) if (child.pid) killTree(child.pid);
  await rm(dir, { recursive: true, force: true });
});

function killTree(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
}

interface Outcome {
  code: number | null;
  stderr: string;
  stdout: string;
}

/** Runs `parley serve --data-dir DATA --port 0 …`; `wrap` runs it under another command (unshare). */
async function serve(
  data: string,
  extra: string[] = [],
  wrap?: (cmd: string[]) => string[],
): Promise<Outcome> {
  const cmd = [process.execPath, MAIN, "serve", "--data-dir", data, "--port", "0", ...extra];
  const [file, ...args] = wrap ? wrap(cmd) : cmd;
  const child = spawn(file, args, { env: { ...process.env, PARLEY_LOG_LEVEL: "error" }, cwd: dir });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  let timer: NodeJS.Timeout | undefined;
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on("close", resolve);
      timer = setTimeout(
        () => reject(new Error(`serve did not exit within 20 s: ${stdout}${stderr}`)),
        20_000,
      );
    });
    return { code, stderr, stdout };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null && child.pid) killTree(child.pid);
    children.delete(child);
  }
}

const parleyLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("parley: "));

/** Exit non-zero, `lines` lines starting `parley: ` (the last one the failure), and no stack. */
function expectFailure(out: Outcome, words: RegExp[], lines = 1): string {
  expect(out.code, out.stderr).not.toBe(0);
  expect(out.code).not.toBeNull();
  const printed = parleyLines(out.stderr);
  expect(printed, out.stderr).toHaveLength(lines);
  expect(out.stderr).not.toMatch(/^\s+at /m);
  const last = printed[printed.length - 1];
  for (const w of words) expect(last).toMatch(w);
  return last;
}

/** A store that was in use: a key in it, closed cleanly. */
async function makeStore(dataDir: string): Promise<string> {
  await mkdir(dataDir, { recursive: true });
  const file = join(dataDir, "parley.db");
  const store = await Store.open(`sqlite:${file}`);
  await store.keys.create({ name: "k" });
  await store.close();
  return file;
}

/**
 * We run as root, so chmod does not make a directory read-only for us. A private mount
 * namespace with a read-only bind mount does (EROFS), where user namespaces are allowed.
 */
async function readOnlyWrap(path: string): Promise<((cmd: string[]) => string[]) | undefined> {
  try {
    await promisify(execFile)("unshare", ["-rm", "sh", "-c", `mount --bind -o ro '${path}' '${path}'`], {
      timeout: 5_000,
    });
  } catch {
    return undefined;
  }
  return (cmd) => [
    "unshare",
    "-rm",
    "sh",
    "-c",
    `mount --bind -o ro '${path}' '${path}' && exec "$@"`,
    "sh",
    ...cmd,
  ];
}

describe("parley serve start-up failures", () => {
  it("a data dir under a regular file (ENOTDIR)", async () => {
    await writeFile(join(dir, "a-file"), "x");
    const line = expectFailure(await serve(join(dir, "a-file", "data")), [
      /data dir .*a-file\/data/,
      /regular file/,
      /ENOTDIR/,
      /--data-dir or PARLEY_DATA_DIR/,
    ]);
    expect(line).not.toMatch(/Error:/);
  });

  it("a corrupt SQLite file", async () => {
    const data = join(dir, "corrupt");
    await mkdir(data);
    await writeFile(join(data, "parley.db"), Buffer.alloc(16_384, "not a database, just some bytes\n"));
    expectFailure(await serve(data), [
      /the store .*corrupt\/parley\.db is not a readable SQLite database/,
      /SQLITE_NOTADB/,
      /restore it from a backup/,
    ]);
  });

  it("a truncated SQLite file", async () => {
    const data = join(dir, "truncated");
    const file = await makeStore(data);
    await truncate(file, 8192);
    expectFailure(await serve(data), [
      /the store .*truncated\/parley\.db is not a readable SQLite database/,
      /SQLITE_CORRUPT: database disk image is malformed/,
      /move it away to start with an empty store/,
    ]);
  });

  it("a read-only data dir, empty or holding a store", async (ctx) => {
    const empty = join(dir, "ro-empty");
    const held = join(dir, "ro-held");
    await mkdir(empty);
    await makeStore(held);
    // The thinking-signature secret exists too, so the store is what the server first fails to write.
    await writeFile(join(held, "thinking-signature.key"), `${randomBytes(32).toString("base64")}\n`);
    const emptyWrap = await readOnlyWrap(empty);
    const heldWrap = await readOnlyWrap(held);
    if (!emptyWrap || !heldWrap) {
      ctx.skip(
        "no way to make a directory read-only for root here (unshare -rm + mount --bind -o ro failed); the message is covered by test/unit/startup-errors.test.ts",
      );
      return;
    }
    expectFailure(await serve(empty, [], emptyWrap), [
      /data dir .*ro-empty is not writable/,
      /EROFS: read-only file system/,
      /make it writable or choose another with --data-dir or PARLEY_DATA_DIR/,
    ]);
    expectFailure(await serve(held, [], heldWrap), [
      /ro-held/,
      /cannot be written|not writable/,
      /SQLITE_CANTOPEN|SQLITE_READONLY|EROFS/,
      /--data-dir or PARLEY_DATA_DIR/,
    ]);
  });

  it("PostgreSQL down: each retry says so, then one final line", async () => {
    const config = join(dir, "pg.yaml");
    await writeFile(
      config,
      "storage: postgres://parley:hunter2@127.0.0.1:1/parley\nserver:\n  start_attempts: 3\n  start_retry_ms: 20\n",
    );
    const out = await serve(join(dir, "pg-data"), ["--config", config]);
    const last = expectFailure(
      out,
      [/PostgreSQL at 127\.0\.0\.1:1 not reachable \(ECONNREFUSED\) after 3 tries/, /storage:/],
      3,
    );
    expect(parleyLines(out.stderr).slice(0, 2)).toEqual([
      "parley: PostgreSQL at 127.0.0.1:1 not reachable (ECONNREFUSED), retrying in 20 ms (2/3)",
      "parley: PostgreSQL at 127.0.0.1:1 not reachable (ECONNREFUSED), retrying in 40 ms (3/3)",
    ]);
    expect(out.stderr + out.stdout).not.toContain("hunter2");
    expect(last).toMatch(/^parley: /);
  });

  it("Redis down: each retry says so, then one final line", async () => {
    const config = join(dir, "redis.yaml");
    await writeFile(
      config,
      "limits: redis://127.0.0.1:1\nserver:\n  start_attempts: 2\n  start_retry_ms: 30\n",
    );
    const out = await serve(join(dir, "redis-data"), ["--config", config]);
    expectFailure(
      out,
      [/Redis at 127\.0\.0\.1:1 not reachable \(ECONNREFUSED\) after 2 tries/, /limits: memory/],
      2,
    );
    expect(parleyLines(out.stderr)[0]).toBe(
      "parley: Redis at 127.0.0.1:1 not reachable (ECONNREFUSED), retrying in 30 ms (2/2)",
    );
  });

  it("the port in use (EADDRINUSE) names the address and --port / PARLEY_PORT", async () => {
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
    const port = (holder.address() as { port: number }).port;
    try {
      const data = join(dir, "port-data");
      const out = await serve(data, ["--port", String(port)]);
      expectFailure(out, [
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`),
        /already in use \(EADDRINUSE\)/,
        /--port or PARLEY_PORT/,
      ]);
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });

  it("a bad config keeps its own message and exit code 2", async () => {
    const config = join(dir, "bad.yaml");
    await writeFile(config, "listen:\n  port: 99999\n");
    const out = await serve(join(dir, "cfg-data"), ["--config", config]);
    expect(out.code).toBe(2);
    expectFailure(out, [/listen\.port/]);
  });
});
