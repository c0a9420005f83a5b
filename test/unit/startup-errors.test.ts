/** The start-up message table: real error objects in, the one `parley:` line out. */
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { describeRetry, describeStartupError } from "../../src/cli/startup-errors.ts";
import { ConfigError } from "../../src/config/index.ts";
import { retriedStartupStep, StartupFailure } from "../../src/server/startup.ts";

/** The error a function throws (synchronously or not). */
async function caught(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error("did not throw");
}

let dir: string;
const errors: Record<string, unknown> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-startup-unit-"));
  writeFileSync(join(dir, "file"), "x");
  errors.ENOTDIR = await caught(() => mkdirSync(join(dir, "file", "sub"), { recursive: true }));
  // Root may write almost anywhere; sysfs refuses new files even to root.
  errors.EACCES = await caught(() => writeFileSync("/sys/parley-test", "x"));
  writeFileSync(join(dir, "garbage.db"), Buffer.alloc(8192, "garbage"));
  errors.SQLITE_NOTADB = await caught(() => new SQLite(join(dir, "garbage.db")).pragma("journal_mode = WAL"));
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
  const second = createServer();
  errors.EADDRINUSE = await new Promise((r) =>
    second.once("error", r).listen((holder.address() as { port: number }).port, "127.0.0.1"),
  );
  holder.close();
  errors.ECONNREFUSED = await new Promise((r) => connect(1, "127.0.0.1").once("error", r));
});

describe("describeStartupError", () => {
  const cases: [string, () => unknown, RegExp[]][] = [
    [
      "config",
      () => new ConfigError("Invalid config (x.yaml): listen.port: too big"),
      [/^Invalid config \(x\.yaml\)/],
    ],
    [
      "ENOTDIR",
      () => new StartupFailure("data_dir", "/d/file/sub", errors.ENOTDIR),
      [
        /^data dir \/d\/file\/sub cannot be created: part of that path is a regular file \(ENOTDIR\)/,
        /--data-dir or PARLEY_DATA_DIR/,
      ],
    ],
    [
      "EACCES on the data dir",
      () => new StartupFailure("data_dir", "/d", errors.EACCES),
      [/^data dir \/d is not writable \(EACCES: permission denied\); make it writable/],
    ],
    [
      "EROFS on the data dir",
      () =>
        new StartupFailure(
          "data_dir",
          "/d",
          Object.assign(new Error("EROFS: read-only file system, open '/d/x'"), {
            code: "EROFS",
            errno: -30,
            syscall: "open",
          }),
        ),
      [/^data dir \/d is not writable \(EROFS: read-only file system\)/],
    ],
    [
      "not a database",
      () => new StartupFailure("store", "/d/parley.db", errors.SQLITE_NOTADB, { service: "SQLite" }),
      [
        /^the store \/d\/parley\.db is not a readable SQLite database \(SQLITE_NOTADB: file is not a database\)/,
        /backup/,
      ],
    ],
    [
      "store not writable",
      () =>
        new StartupFailure(
          "store",
          "/d/parley.db",
          Object.assign(new Error("attempt to write a readonly database"), { code: "SQLITE_READONLY" }),
          {
            service: "SQLite",
          },
        ),
      [
        /^the store \/d\/parley\.db cannot be written \(SQLITE_READONLY: attempt to write a readonly database\)/,
      ],
    ],
    [
      "PostgreSQL unreachable",
      () =>
        new StartupFailure("store", "db:5432", errors.ECONNREFUSED, { service: "PostgreSQL", attempts: 5 }),
      [/^PostgreSQL at db:5432 not reachable \(ECONNREFUSED\) after 5 tries; start it, or fix `storage:`/],
    ],
    [
      "PostgreSQL refusing the login",
      () =>
        new StartupFailure(
          "store",
          "db:5432",
          Object.assign(new Error('password authentication failed for user "p"'), { code: "28P01" }),
          { service: "PostgreSQL" },
        ),
      [/^PostgreSQL at db:5432 refused Parley \(password authentication failed for user "p" \(28P01\)\)/],
    ],
    [
      "Redis unreachable",
      () => new StartupFailure("limits", "r:6379", errors.ECONNREFUSED, { service: "Redis", attempts: 2 }),
      [/^Redis at r:6379 not reachable \(ECONNREFUSED\) after 2 tries/, /limits: memory/],
    ],
    [
      "EADDRINUSE",
      () => new StartupFailure("listen", "127.0.0.1:8787", errors.EADDRINUSE),
      [
        /^cannot listen on 127\.0\.0\.1:8787: the address is already in use \(EADDRINUSE\)/,
        /--port or PARLEY_PORT/,
      ],
    ],
    ["anything else", () => new Error("boom\n    at x (y.ts:1:1)"), [/^boom$/]],
  ];
  it.each(cases)("%s", (_name, make, words) => {
    const line = describeStartupError(make());
    for (const w of words) expect(line).toMatch(w);
    expect(line).not.toContain("\n");
  });

  it("words a retry with the next try and the wait", () => {
    const f = new StartupFailure("store", "127.0.0.1:1", errors.ECONNREFUSED, { service: "PostgreSQL" });
    expect(describeRetry(f, 2, 5, 1000)).toBe(
      "PostgreSQL at 127.0.0.1:1 not reachable (ECONNREFUSED), retrying in 1 s (2/5)",
    );
    expect(describeRetry(f, 5, 5, 8000)).toBe(
      "PostgreSQL at 127.0.0.1:1 not reachable (ECONNREFUSED), retrying in 8 s (5/5)",
    );
    expect(describeRetry(f, 2, 3, 250)).toBe(
      "PostgreSQL at 127.0.0.1:1 not reachable (ECONNREFUSED), retrying in 250 ms (2/3)",
    );
  });
});

describe("retriedStartupStep", () => {
  it("retries only unreachable services, doubling the wait up to 8 times the first", async () => {
    const waits: [number, number][] = [];
    const retry = {
      attempts: 6,
      delayMs: 1,
      onRetry: (_f: StartupFailure, next: number, _a: number, ms: number) => waits.push([next, ms]),
    };
    let tries = 0;
    const failure = await caught(() =>
      retriedStartupStep("store", "h:1", "PostgreSQL", retry, async () => {
        tries++;
        throw errors.ECONNREFUSED;
      }),
    );
    expect(tries).toBe(6);
    expect(waits).toEqual([
      [2, 1],
      [3, 2],
      [4, 4],
      [5, 8],
      [6, 8],
    ]);
    expect(failure).toBeInstanceOf(StartupFailure);
    expect((failure as StartupFailure).attempts).toBe(6);
    tries = 0;
    const login = Object.assign(new Error("password authentication failed"), { code: "28P01" });
    await caught(() =>
      retriedStartupStep("store", "h:1", "PostgreSQL", retry, async () => {
        tries++;
        throw login;
      }),
    );
    expect(tries).toBe(1);
    let ok = 0;
    const value = await retriedStartupStep("limits", "r:1", "Redis", retry, async () => {
      if (ok++ < 2) throw errors.ECONNREFUSED;
      return "up";
    });
    expect(value).toBe("up");
  });
});
