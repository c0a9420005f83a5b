import type { Kysely, Selectable } from "kysely";
import { hashKey, type KeyLimits, keyHint, newSecretKey } from "../auth/index.ts";
import type { KeyConfig } from "../config/index.ts";
import { hostsFromColumn, hostsToColumn } from "./host-list-column.ts";
import { newId } from "./ids.ts";
import { LIMIT_NAMES, limitsFromRow, limitsToRow } from "./limits-columns.ts";
import { cursorOf, keysetPage, type Page, type PageParams } from "./page.ts";
import type { ApiKeyTable, Database } from "./schema.ts";
import type { WorkspaceRepository } from "./workspaces.ts";

export type KeyStatus = "active" | "inactive" | "archived";

export interface ApiKey {
  id: string;
  name: string;
  /** Short, non-secret hint (`sk-parl...Xy9Z`). */
  hint: string;
  status: KeyStatus;
  workspace_id: string | null;
  models: string[];
  limits: KeyLimits;
  /** MCP hosts this key narrows `mcp.allowed_hosts` to; null = no narrowing. */
  mcp_allowed_hosts: string[] | null;
  source: "config" | "api";
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface NewKey {
  name: string;
  workspace_id?: string | null;
  models?: string[];
  limits?: KeyLimits;
  mcp_allowed_hosts?: string[] | null;
  created_by?: string | null;
}

export interface KeyChanges {
  name?: string;
  status?: KeyStatus;
  models?: string[];
  limits?: KeyLimits;
  /** null clears the list. */
  mcp_allowed_hosts?: string[] | null;
}

export interface KeyListParams extends PageParams {
  status?: KeyStatus;
  workspace_id?: string;
}

/** A key found by its hash, with what authentication needs from its workspace. */
export interface KeyWithWorkspace {
  key: ApiKey;
  key_hash: string;
  workspace_archived: boolean;
  workspace_limits: KeyLimits;
  workspace_mcp_allowed_hosts: string[] | undefined;
}

export class KeyRepository {
  private readonly db: Kysely<Database>;
  private readonly workspaces: WorkspaceRepository;
  private readonly onChange: () => void;

  constructor(db: Kysely<Database>, workspaces: WorkspaceRepository, onChange: () => void = () => {}) {
    this.db = db;
    this.workspaces = workspaces;
    this.onChange = onChange;
  }

  /** Creates a key; the plain key is returned here once and never stored. */
  async create(input: NewKey): Promise<{ key: ApiKey; secret: string }> {
    const secret = newSecretKey();
    const now = Date.now();
    const row = {
      id: newId("apikey"),
      name: input.name,
      key_hash: hashKey(secret).toString("hex"),
      hint: keyHint(secret),
      status: "active" as const,
      workspace_id: input.workspace_id ?? null,
      models: JSON.stringify(input.models ?? ["*"]),
      mcp_allowed_hosts: hostsToColumn(input.mcp_allowed_hosts),
      source: "api" as const,
      created_by: input.created_by ?? null,
      created_at: now,
      updated_at: now,
      ...limitsToRow(input.limits),
    };
    await this.db.insertInto("api_keys").values(row).execute();
    return { key: toKey(row), secret };
  }

  async get(id: string): Promise<ApiKey | undefined> {
    const row = await this.db.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toKey(row);
  }

  async list(params: KeyListParams): Promise<Page<ApiKey>> {
    let q = this.db.selectFrom("api_keys").selectAll();
    if (params.status) q = q.where("status", "=", params.status);
    if (params.workspace_id) q = q.where("workspace_id", "=", params.workspace_id);
    return keysetPage(q, params, async (id) => cursorOf(await this.get(id)), toKey);
  }

  async update(id: string, changes: KeyChanges): Promise<ApiKey | undefined> {
    const set: Record<string, unknown> = {};
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.status !== undefined) set.status = changes.status;
    if (changes.models !== undefined) set.models = JSON.stringify(changes.models);
    if (changes.limits !== undefined) Object.assign(set, limitsToRow(changes.limits));
    if (changes.mcp_allowed_hosts !== undefined)
      set.mcp_allowed_hosts = hostsToColumn(changes.mcp_allowed_hosts);
    if (Object.keys(set).length > 0) {
      set.updated_at = Date.now();
      await this.db.updateTable("api_keys").set(set).where("id", "=", id).execute();
      this.onChange();
    }
    return this.get(id);
  }

  async findByHash(hashHex: string): Promise<KeyWithWorkspace | undefined> {
    const row = await this.db
      .selectFrom("api_keys as k")
      .leftJoin("workspaces as w", "w.id", "k.workspace_id")
      .selectAll("k")
      .select([
        "w.archived_at as w_archived_at",
        "w.rpm as w_rpm",
        "w.tpm as w_tpm",
        "w.input_tpm as w_input_tpm",
        "w.output_tpm as w_output_tpm",
        "w.monthly_tokens as w_monthly_tokens",
        "w.mcp_allowed_hosts as w_mcp_allowed_hosts",
      ])
      .where("k.key_hash", "=", hashHex)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      key: toKey(row),
      key_hash: row.key_hash,
      workspace_archived: row.w_archived_at !== null && row.w_archived_at !== undefined,
      workspace_limits: limitsFromRow({
        rpm: row.w_rpm,
        tpm: row.w_tpm,
        input_tpm: row.w_input_tpm,
        output_tpm: row.w_output_tpm,
        monthly_tokens: row.w_monthly_tokens,
      }),
      workspace_mcp_allowed_hosts: hostsFromColumn(row.w_mcp_allowed_hosts),
    };
  }

  /**
   * Makes the config's keys match the config: each is inserted or updated by its hash (archived keys
   * stay archived), and config keys no longer listed become inactive.
   */
  async upsertConfigKeys(keys: KeyConfig[]): Promise<void> {
    const now = Date.now();
    const hashes: string[] = [];
    for (const k of keys) {
      const hash = hashKey(k.key).toString("hex");
      hashes.push(hash);
      const workspace_id = k.workspace ? await this.workspaces.resolveConfigWorkspace(k.workspace) : null;
      const fields = {
        name: k.name ?? `config key ${keyHint(k.key)}`,
        workspace_id,
        models: JSON.stringify(k.models ?? ["*"]),
        ...limitsToRow(Object.fromEntries(LIMIT_NAMES.map((n) => [n, k[n]]))),
        mcp_allowed_hosts: hostsToColumn(k.mcp_allowed_hosts),
        source: "config" as const,
        updated_at: now,
      };
      await this.db
        .insertInto("api_keys")
        .values({
          id: newId("apikey"),
          key_hash: hash,
          hint: keyHint(k.key),
          status: "active",
          created_by: null,
          created_at: now,
          ...fields,
        })
        .onConflict((oc) =>
          oc.column("key_hash").doUpdateSet((eb) => ({
            ...fields,
            status: eb
              .case()
              .when("api_keys.status", "=", "archived")
              .then("archived" as KeyStatus)
              .else("active" as KeyStatus)
              .end(),
          })),
        )
        .execute();
    }
    let stale = this.db
      .updateTable("api_keys")
      .set({ status: "inactive", updated_at: now })
      .where("source", "=", "config")
      .where("status", "=", "active");
    if (hashes.length > 0) stale = stale.where("key_hash", "not in", hashes);
    await stale.execute();
    this.onChange();
  }

  async count(): Promise<number> {
    const row = await this.db
      .selectFrom("api_keys")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

function toKey(row: Selectable<ApiKeyTable>): ApiKey {
  return {
    id: row.id,
    name: row.name,
    hint: row.hint,
    status: row.status,
    workspace_id: row.workspace_id,
    models: JSON.parse(row.models) as string[],
    limits: limitsFromRow(row),
    mcp_allowed_hosts: hostsFromColumn(row.mcp_allowed_hosts) ?? null,
    source: row.source,
    created_by: row.created_by,
    created_at: new Date(Number(row.created_at)),
    updated_at: new Date(Number(row.updated_at)),
  };
}
