/**
 * The SQLite usage writer's thread: its own connection to the database file, its INSERTs prepared
 * once, one transaction per batch. Receives `{ id, rows }` (rows as value arrays in COLUMNS order) and
 * answers `{ id }` or `{ id, error }`.
 */

import { parentPort, workerData } from "node:worker_threads";
import SQLite from "better-sqlite3";
import { USAGE_COLUMNS } from "./usage-columns.ts";

const database = new SQLite(workerData.path as string);
database.pragma("busy_timeout = 5000");
database.pragma("synchronous = NORMAL");
// A multi-row INSERT keeps a statement journal (to undo a failed statement alone); in memory, not
// in a temporary file the kernel writes for every chunk.
database.pragma("temp_store = MEMORY");
/** Rows per INSERT statement for full chunks of a batch: one statement run instead of 32. */
const ROWS_PER_INSERT = 32;
const ROW = `(${USAGE_COLUMNS.map(() => "?").join(", ")})`;
const insertOf = (rows: number) =>
  database.prepare(
    `insert into usage (${USAGE_COLUMNS.join(", ")}) values ${Array(rows).fill(ROW).join(", ")} on conflict (request_id) do nothing`,
  );
const insertOne = insertOf(1);
const insertChunk = insertOf(ROWS_PER_INSERT);
const writeAll = database.transaction((rows: unknown[][]) => {
  let i = 0;
  for (; i + ROWS_PER_INSERT <= rows.length; i += ROWS_PER_INSERT)
    insertChunk.run(rows.slice(i, i + ROWS_PER_INSERT).flat());
  for (; i < rows.length; i++) insertOne.run(rows[i]);
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
