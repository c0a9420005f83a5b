export { type Dialect, isPostgresUrl, openDatabase, sqlitePath } from "./database.ts";
export { DbKeyStore, type KeyCacheOptions } from "./db-key-store.ts";
export { newId } from "./ids.ts";
export type { ApiKey, KeyChanges, KeyListParams, KeyStatus, NewKey } from "./keys.ts";
export type { Page, PageParams } from "./page.ts";
export { beyond, keysetPage, toPage } from "./page.ts";
export {
  type LoggedRequest,
  type RequestLogQuery,
  type RequestStatusFilter,
  UnknownCursorError,
} from "./request-log.ts";
export type {
  BatchRequestState,
  Database,
  FileTable,
  MessageBatchTable,
} from "./schema.ts";
export { Store, type StoreOptions } from "./store.ts";
export { discardUsage, type UsageRecord, type UsageRecorder, type UsageWriteStats } from "./usage-record.ts";
export { BatchedUsageRecorder, type BatchOptions, type RecorderLogger } from "./usage-recorder.ts";
export {
  BUCKET_LIMITS,
  BUCKET_WIDTHS,
  type BucketWidth,
  decodePage,
  GROUP_BY,
  type GroupBy,
  rfc3339,
  type UsageBucket,
  type UsageReport,
  type UsageReportQuery,
  type UsageResult,
} from "./usage-report.ts";
export type { Workspace, WorkspaceChanges } from "./workspaces.ts";
