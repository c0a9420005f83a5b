/**
 * The SQLite usage writer's thread: its own connection to the database file, one statement prepared
 * once, one transaction per batch. Receives `{ id, rows }` (rows as value arrays in COLUMNS order) and
 * answers `{ id }` or `{ id, error }`.
 */

import { parentPort, workerData } from "node:worker_threads";
import SQLite from "better-sqlite3";
import { USAGE_COLUMNS } from "./usage-columns.ts";

const database = new SQLite(workerData.path as string);
database.pragma("busy_timeout = 5000");
database.pragma("synchronous = NORMAL");
const insert = database.prepare(
  `insert into usage (${USAGE_COLUMNS.join(", ")}) values (${USAGE_COLUMNS.map(() => "?").join(", ")}) on conflict (request_id) do nothing`,
);
const writeAll = database.transaction((rows: unknown[][]) => {
  for (const row of rows) insert.run(row);
});

parentPort?.on("message", (msg: { id: number; rows: unknown[][] } | "close") => {
  if (msg === "close") {
    database.close();
    parentPort?.close();
    return;
  }
  try {
    writeAll(msg.rows);
    parentPort?.postMessage({ id: msg.id });
  } catch (err) {
    parentPort?.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) });
  }
});
