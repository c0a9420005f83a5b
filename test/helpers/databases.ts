import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

export const PG_URL = process.env.PARLEY_TEST_PG_URL;
export const REDIS_URL = process.env.PARLEY_TEST_REDIS_URL;

/** A throwaway database: a SQLite file, or a fresh schema in the test PostgreSQL. */
export interface TestDatabase {
  kind: "sqlite" | "postgres";
  /** A `storage:` value for it. */
  url: string;
  drop(): Promise<void>;
}

export async function sqliteDatabase(): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), "parley-store-"));
  return {
    kind: "sqlite",
    url: `sqlite:${join(dir, "parley.db")}`,
    drop: () => rm(dir, { recursive: true, force: true }),
  };
}

export async function postgresDatabase(baseUrl: string): Promise<TestDatabase> {
  const schema = `parley_test_${randomBytes(6).toString("hex")}`;
  const url = new URL(baseUrl);
  url.searchParams.set("schema", schema);
  return {
    kind: "postgres",
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      try {
        await client.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await client.end();
      }
    },
  };
}

/** The databases every store test runs on: SQLite always, PostgreSQL when PARLEY_TEST_PG_URL is set. */
export const databaseKinds: ("sqlite" | "postgres")[] = PG_URL ? ["sqlite", "postgres"] : ["sqlite"];

export function openTestDatabase(kind: "sqlite" | "postgres"): Promise<TestDatabase> {
  if (kind === "sqlite") return sqliteDatabase();
  if (!PG_URL) throw new Error("PARLEY_TEST_PG_URL is not set");
  return postgresDatabase(PG_URL);
}

/** A Redis key prefix unique to this run. */
export const redisPrefix = () => `parley-test-${randomBytes(6).toString("hex")}:`;
