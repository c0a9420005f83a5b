import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import pg from "pg";
import { migrateToLatest } from "./migrations.ts";
import type { Database } from "./schema.ts";

export type Dialect = "sqlite" | "postgres";

export interface OpenDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  /** The migrations applied by this open (empty when the schema was already current). */
  migrated: string[];
  /** The SQLite file, for writers with their own connection (the usage writer's thread). */
  sqlitePath?: string;
  close(): Promise<void>;
}

/**
 * Opens `sqlite:PATH` (or a bare path) or `postgres://…` and migrates it to the latest schema.
 * A PostgreSQL URL may carry `?schema=NAME` to keep Parley's tables in their own schema (created if missing).
 */
export async function openDatabase(url: string): Promise<OpenDatabase> {
  const opened = isPostgresUrl(url) ? await openPostgres(url) : openSqlite(url);
  try {
    const migrated = await withRetries(() => migrateToLatest(opened.db as Kysely<unknown>, opened.schema));
    const { schema: _, ...rest } = opened;
    return { ...rest, migrated };
  } catch (err) {
    await opened.db.destroy();
    throw err;
  }
}

export const isPostgresUrl = (url: string): boolean => /^postgres(ql)?:\/\//.test(url);

/** The file a `sqlite:PATH` (or bare path) storage setting names, absolute. */
export const sqlitePath = (url: string): string => {
  const path = url.replace(/^sqlite:(\/\/)?/, "");
  return path === ":memory:" ? path : resolve(path);
};

type Opened = Omit<OpenDatabase, "migrated"> & { schema?: string };

function openSqlite(url: string): Opened {
  const path = sqlitePath(url);
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const database = new SQLite(path);
  try {
    // WAL lets the CLI and a running server share the file; NORMAL sync keeps commits durable across a crash of the process.
    database.pragma("journal_mode = WAL");
    database.pragma("synchronous = NORMAL");
    database.pragma("busy_timeout = 5000");
    database.pragma("foreign_keys = ON");
  } catch (err) {
    // Not a database, or not writable: the first pragma says so.
    database.close();
    throw err;
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  return {
    db,
    dialect: "sqlite",
    sqlitePath: path === ":memory:" ? undefined : path,
    close: () => db.destroy(),
  };
}

async function openPostgres(url: string): Promise<Opened> {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get("schema");
  parsed.searchParams.delete("schema");
  if (schema !== null && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`storage: schema '${schema}' is not a plain SQL identifier`);
  }
  const pool = new pg.Pool({
    connectionString: parsed.toString(),
    max: 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  if (schema) {
    try {
      await withRetries(() => sql`create schema if not exists ${sql.id(schema)}`.execute(db));
    } catch (err) {
      await db.destroy();
      throw err;
    }
  }
  return { db, dialect: "postgres", schema: schema ?? undefined, close: () => db.destroy() };
}

/**
 * PostgreSQL's `create … if not exists` can still fail when another instance creates the same thing at
 * the same moment (a unique violation in the catalogue); the second attempt then finds it there.
 */
async function withRetries<T>(run: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100 * i));
    }
  }
}
