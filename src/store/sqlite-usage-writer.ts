import { Worker } from "node:worker_threads";
import { usageValues } from "./usage-columns.ts";
import type { UsageRow } from "./usage-recorder.ts";

export interface SqliteUsageWriter {
  write(rows: UsageRow[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Writes usage batches to a SQLite file from a worker thread. better-sqlite3 is synchronous, so
 * inserting on the event loop would stall requests while a batch commits; here the server thread only
 * hands over value arrays.
 */
export function sqliteUsageWriter(
  path: string,
  fallback: (rows: UsageRow[]) => Promise<void>,
): SqliteUsageWriter {
  const worker = new Worker(new URL("./sqlite-usage-worker.ts", import.meta.url), {
    workerData: { path },
    execArgv: workerExecArgv(process.execArgv),
  });
  worker.unref();
  const waiting = new Map<number, { resolve(): void; reject(err: Error): void }>();
  let next = 0;
  let dead: Error | undefined;
  let closed: Promise<void> | undefined;
  // Referenced only while a batch is in flight: an idle writer never keeps the process alive.
  worker.on("message", (msg: { id: number; error?: string }) => {
    const w = waiting.get(msg.id);
    waiting.delete(msg.id);
    if (waiting.size === 0) worker.unref();
    if (msg.error) w?.reject(new Error(msg.error));
    else w?.resolve();
  });
  worker.on("error", (err) => {
    dead = err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  });
  return {
    write(rows) {
      // Should the thread ever die, batches are written on this thread instead.
      if (dead) return fallback(rows);
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        worker.ref();
        worker.postMessage({ id, rows: rows.map(usageValues) });
      });
    },
    close() {
      if (dead) return Promise.resolve();
      closed ??= new Promise<void>((resolve) => {
        worker.ref();
        worker.once("exit", () => resolve());
        worker.postMessage("close");
      });
      return closed;
    },
  };
}

/**
 * The worker's Node flags. Left to inherit (`undefined`), a worker takes the process's flags as
 * they are, V8 and per-process ones included (`--expose-gc`, `--perf-basic-prof`, `--stack-size`,
 * `--abort-on-uncaught-exception`, heap sizes), which it would refuse if they were given to it
 * explicitly. Only `--input-type` (`node -e`) must go, since on Node 22 a worker that inherits it
 * cannot load its file; the list is then explicit, without the flags Node refuses that are
 * likely next to `-e`.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] | undefined {
  if (!execArgv.some((a) => a.startsWith("--input-type"))) return undefined;
  return execArgv.filter((a) => !/^--(input-type|max-old-space-size|max-semi-space-size)/.test(a));
}
