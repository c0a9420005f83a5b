import { type Kysely, sql } from "kysely";
import type { KeyConfig } from "../config/index.ts";
import { type Dialect, type OpenDatabase, openDatabase } from "./database.ts";
import { DbKeyStore, type KeyCacheOptions } from "./db-key-store.ts";
import { KeyRepository } from "./keys.ts";
import type { Page } from "./page.ts";
import { type LoggedRequest, type RequestLogQuery, requestLog } from "./request-log.ts";
import type { Database } from "./schema.ts";
import { sqliteUsageWriter } from "./sqlite-usage-writer.ts";
import { BatchedUsageRecorder, type BatchOptions, insertUsage } from "./usage-recorder.ts";
import { tokensSince, type UsageReport, type UsageReportQuery, usageReport } from "./usage-report.ts";
import { WorkspaceRepository } from "./workspaces.ts";

export interface StoreOptions {
  /** Keys from the config file, upserted at open (omit for tools such as the CLI that must not). */
  configKeys?: KeyConfig[];
  keyCache?: KeyCacheOptions;
  usage?: BatchOptions;
}

/** Keys, workspaces and usage in one database (SQLite or PostgreSQL), migrated on open. */
export class Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  readonly workspaces: WorkspaceRepository;
  readonly keys: KeyRepository;
  /** Authenticates API keys (cached; see `KeyCacheOptions.ttlMs`). */
  readonly keyStore: DbKeyStore;
  /** Batched usage writer; the server calls `record` per reply and `flush` on shutdown. */
  readonly recorder: BatchedUsageRecorder;
  private readonly closeDb: () => Promise<void>;
  private readonly closeWriter: () => Promise<void>;
  private closing: Promise<void> | undefined;

  private constructor(opened: OpenDatabase, options: StoreOptions) {
    const { db } = opened;
    this.db = db;
    this.dialect = opened.dialect;
    this.closeDb = opened.close;
    const changed = () => this.keyStore.invalidate();
    this.workspaces = new WorkspaceRepository(db, changed);
    this.keys = new KeyRepository(db, this.workspaces, changed);
    this.keyStore = new DbKeyStore(this.keys, options.keyCache);
    const writer = opened.sqlitePath
      ? sqliteUsageWriter(opened.sqlitePath, (rows) => insertUsage(db, rows))
      : undefined;
    this.closeWriter = () => writer?.close() ?? Promise.resolve();
    this.recorder = new BatchedUsageRecorder(db, { write: writer?.write, ...options.usage });
  }

  static async open(url: string, options: StoreOptions = {}): Promise<Store> {
    const opened = await openDatabase(url);
    const store = new Store(opened, options);
    try {
      if (options.configKeys) await store.keys.upsertConfigKeys(options.configKeys);
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  report(query: UsageReportQuery): Promise<UsageReport> {
    return usageReport(this.db, query);
  }

  /** The latest requests, newest first (the console's request log). */
  requests(query: RequestLogQuery): Promise<Page<LoggedRequest>> {
    return requestLog(this.db, query);
  }

  /** Tokens charged to a key or workspace since the start of this UTC month (budgets survive restarts). */
  tokensThisMonth(scope: { kind: "key" | "workspace"; id: string }, now = new Date()): Promise<number> {
    return tokensSince(this.db, scope, new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)));
  }

  /** A cheap round trip that proves the database answers (readiness). */
  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  /** Writes buffered usage, then closes the database (once; later calls wait for the same close). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.recorder.close();
      await this.closeWriter();
      await this.closeDb();
    })();
    return this.closing;
  }
}
