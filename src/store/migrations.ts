import type { CreateTableBuilder, Kysely } from "kysely";
import { type Migration, type MigrationProvider, Migrator } from "kysely/migration";

const MIGRATION_TABLE = "parley_migration";
const LIMIT_COLUMNS = ["rpm", "tpm", "input_tpm", "output_tpm", "monthly_tokens"] as const;

/**
 * Versioned migrations, applied in name order at start. Never edit a released one: add the next.
 * Types used here mean the same on SQLite and PostgreSQL (`bigint` is an integer in both).
 */
const migrations: Record<string, Migration> = {
  "0001_keys_workspaces_usage": {
    async up(db: Kysely<unknown>) {
      let workspaces: CreateTableBuilder<"workspaces", string> = db.schema
        .createTable("workspaces")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("display_color", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("archived_at", "bigint");
      for (const c of LIMIT_COLUMNS) workspaces = workspaces.addColumn(c, "bigint");
      await workspaces.execute();
      let keys: CreateTableBuilder<"api_keys", string> = db.schema
        .createTable("api_keys")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("key_hash", "text", (c) => c.notNull().unique())
        .addColumn("hint", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("workspace_id", "text", (c) => c.references("workspaces.id"))
        .addColumn("models", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("created_by", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull());
      for (const c of LIMIT_COLUMNS) keys = keys.addColumn(c, "bigint");
      await keys.execute();
      await db.schema.createIndex("api_keys_workspace").on("api_keys").column("workspace_id").execute();
      await db.schema
        .createTable("usage")
        .addColumn("request_id", "text", (c) => c.primaryKey())
        .addColumn("key_id", "text")
        .addColumn("workspace_id", "text")
        .addColumn("model", "text", (c) => c.notNull())
        .addColumn("input_tokens", "bigint", (c) => c.notNull())
        .addColumn("output_tokens", "bigint", (c) => c.notNull())
        .addColumn("cache_creation_input_tokens", "bigint", (c) => c.notNull())
        .addColumn("cache_read_input_tokens", "bigint", (c) => c.notNull())
        .addColumn("status", "integer", (c) => c.notNull())
        .addColumn("error_type", "text")
        .addColumn("streamed", "integer", (c) => c.notNull())
        .addColumn("latency_ms", "bigint", (c) => c.notNull())
        .addColumn("ttft_ms", "bigint")
        .addColumn("started_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("usage_started_at").on("usage").column("started_at").execute();
      await db.schema
        .createIndex("usage_key_started")
        .on("usage")
        .columns(["key_id", "started_at"])
        .execute();
      await db.schema
        .createIndex("usage_workspace_started")
        .on("usage")
        .columns(["workspace_id", "started_at"])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const t of ["usage", "api_keys", "workspaces"]) await db.schema.dropTable(t).execute();
    },
  },
  "0002_batches_files": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("usage").addColumn("batch_id", "text").execute();
      await db.schema.alterTable("usage").addColumn("service_tier", "text").execute();
      let batches: CreateTableBuilder<"message_batches", string> = db.schema
        .createTable("message_batches")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("workspace_id", "text")
        .addColumn("key_id", "text", (c) => c.notNull())
        .addColumn("principal", "text", (c) => c.notNull())
        .addColumn("processing_status", "text", (c) => c.notNull())
        .addColumn("request_count", "bigint", (c) => c.notNull());
      for (const c of ["succeeded", "errored", "canceled", "expired"]) {
        batches = batches.addColumn(c, "bigint", (col) => col.notNull().defaultTo(0));
      }
      await batches
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("ended_at", "bigint")
        .addColumn("cancel_initiated_at", "bigint")
        .addColumn("archived_at", "bigint")
        .execute();
      await db.schema
        .createIndex("message_batches_workspace_created")
        .on("message_batches")
        .columns(["workspace_id", "created_at"])
        .execute();
      await db.schema
        .createTable("batch_requests")
        .addColumn("batch_id", "text", (c) =>
          c.notNull().references("message_batches.id").onDelete("cascade"),
        )
        .addColumn("idx", "bigint", (c) => c.notNull())
        .addColumn("custom_id", "text", (c) => c.notNull())
        .addColumn("model", "text", (c) => c.notNull())
        .addColumn("params", "text", (c) => c.notNull())
        .addColumn("context", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("result", "text")
        .addColumn("lease_owner", "text")
        .addColumn("lease_until", "bigint")
        .addColumn("not_before", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("attempts", "bigint", (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint("batch_requests_pk", ["batch_id", "idx"])
        .execute();
      await db.schema
        .createIndex("batch_requests_claim")
        .on("batch_requests")
        .columns(["model", "state", "not_before"])
        .execute();
      await db.schema
        .createTable("files")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("workspace_id", "text")
        .addColumn("key_id", "text", (c) => c.notNull())
        .addColumn("filename", "text", (c) => c.notNull())
        .addColumn("mime_type", "text", (c) => c.notNull())
        .addColumn("size_bytes", "bigint", (c) => c.notNull())
        .addColumn("downloadable", "integer", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint")
        .execute();
      await db.schema
        .createIndex("files_workspace_created")
        .on("files")
        .columns(["workspace_id", "created_at"])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const t of ["files", "batch_requests", "message_batches"]) await db.schema.dropTable(t).execute();
      await db.schema.alterTable("usage").dropColumn("service_tier").execute();
      await db.schema.alterTable("usage").dropColumn("batch_id").execute();
    },
  },
  "0003_mcp_allowed_hosts": {
    async up(db: Kysely<unknown>) {
      for (const t of ["workspaces", "api_keys"]) {
        await db.schema.alterTable(t).addColumn("mcp_allowed_hosts", "text").execute();
      }
    },
    async down(db: Kysely<unknown>) {
      for (const t of ["workspaces", "api_keys"]) {
        await db.schema.alterTable(t).dropColumn("mcp_allowed_hosts").execute();
      }
    },
  },
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/**
 * Brings the schema to the latest version; safe when several instances start at once (Kysely locks).
 * The bookkeeping tables have Parley's own names, and live in Parley's schema when one is set, so another
 * Kysely user in the same database (or another Parley schema) is never mistaken for this one.
 */
export async function migrateToLatest(db: Kysely<unknown>, schema?: string): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: `${MIGRATION_TABLE}_lock`,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
