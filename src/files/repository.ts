import { type Kysely, type Selectable, sql } from "kysely";
import {
  type Database,
  type FileTable,
  keysetPage,
  newId,
  type Page,
  type PageParams,
} from "../store/index.ts";

export interface StoredFile {
  id: string;
  workspace_id: string | null;
  key_id: string;
  filename: string;
  mime_type: string;
  size_bytes: number;
  downloadable: boolean;
  created_at: number;
  expires_at: number | null;
}

export interface FileListParams extends PageParams {
  ids?: string[];
  now: number;
}

/** File metadata in the store; the bytes live in `FileStorage`. Scoped by workspace like batches. */
export class FileRepository {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  newId(): string {
    return newId("file");
  }

  async insert(file: StoredFile): Promise<void> {
    await this.db
      .insertInto("files")
      .values({ ...file, downloadable: file.downloadable ? 1 : 0 })
      .execute();
  }

  /** A live file of the workspace (an expired one is gone, as on the hosted API). */
  async get(id: string, workspaceId: string | null, now: number): Promise<StoredFile | undefined> {
    const row = await this.db
      .selectFrom("files")
      .selectAll()
      .where("id", "=", id)
      .where(sameWorkspace(workspaceId))
      .where(notExpired(now))
      .executeTakeFirst();
    return row && toFile(row);
  }

  async list(workspaceId: string | null, params: FileListParams): Promise<Page<StoredFile>> {
    let q = this.db
      .selectFrom("files")
      .selectAll()
      .where(sameWorkspace(workspaceId))
      .where(notExpired(params.now));
    if (params.ids?.length) q = q.where("id", "in", params.ids);
    return keysetPage(q, params, (id) => this.get(id, workspaceId, params.now), toFile);
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom("files").where("id", "=", id).execute();
  }

  /** Files past their `expires_at`, to delete with their bytes. */
  async expired(now: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom("files")
      .select("id")
      .where("expires_at", "is not", null)
      .where("expires_at", "<=", now)
      .execute();
    return rows.map((r) => r.id);
  }
}

const sameWorkspace = (workspaceId: string | null) =>
  workspaceId === null ? sql<boolean>`workspace_id is null` : sql<boolean>`workspace_id = ${workspaceId}`;

const notExpired = (now: number) => sql<boolean>`(expires_at is null or expires_at > ${now})`;

function toFile(row: Selectable<FileTable>): StoredFile {
  return {
    id: row.id,
    workspace_id: row.workspace_id,
    key_id: row.key_id,
    filename: row.filename,
    mime_type: row.mime_type,
    size_bytes: Number(row.size_bytes),
    downloadable: Boolean(row.downloadable),
    created_at: Number(row.created_at),
    expires_at: row.expires_at === null ? null : Number(row.expires_at),
  };
}
