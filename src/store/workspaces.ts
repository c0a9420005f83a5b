import { createHash } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import type { KeyLimits } from "../auth/index.ts";
import { hostsFromColumn, hostsToColumn } from "./host-list-column.ts";
import { newId } from "./ids.ts";
import { limitsFromRow, limitsToRow } from "./limits-columns.ts";
import { cursorOf, keysetPage, type Page, type PageParams } from "./page.ts";
import type { Database, WorkspaceTable } from "./schema.ts";

export interface Workspace {
  id: string;
  name: string;
  display_color: string;
  created_at: Date;
  archived_at: Date | null;
  limits: KeyLimits;
  /** MCP hosts the workspace's keys are narrowed to; null = no narrowing. */
  mcp_allowed_hosts: string[] | null;
}

export interface WorkspaceChanges {
  name?: string;
  limits?: KeyLimits;
  /** null clears the list. */
  mcp_allowed_hosts?: string[] | null;
}

/** Colours the Console picks from for new workspaces. */
const COLOURS = ["#6C5BB9", "#C15F3C", "#3D7A5D", "#B8860B", "#4A6FA5", "#A34A7A"];

export class WorkspaceRepository {
  private readonly db: Kysely<Database>;
  private readonly onChange: () => void;

  constructor(db: Kysely<Database>, onChange: () => void = () => {}) {
    this.db = db;
    this.onChange = onChange;
  }

  async create(
    input: { name: string; limits?: KeyLimits; mcp_allowed_hosts?: string[] | null },
    id = newId("wrkspc"),
  ): Promise<Workspace> {
    const now = Date.now();
    const row = {
      id,
      name: input.name,
      display_color: COLOURS[now % COLOURS.length],
      created_at: now,
      archived_at: null,
      ...limitsToRow(input.limits),
      mcp_allowed_hosts: hostsToColumn(input.mcp_allowed_hosts),
    };
    await this.db.insertInto("workspaces").values(row).execute();
    return toWorkspace(row);
  }

  async get(id: string): Promise<Workspace | undefined> {
    const row = await this.db.selectFrom("workspaces").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toWorkspace(row);
  }

  async list(params: PageParams & { include_archived?: boolean }): Promise<Page<Workspace>> {
    let q = this.db.selectFrom("workspaces").selectAll();
    if (!params.include_archived) q = q.where("archived_at", "is", null);
    return keysetPage(q, params, async (id) => cursorOf(await this.get(id)), toWorkspace);
  }

  async update(id: string, changes: WorkspaceChanges): Promise<Workspace | undefined> {
    const set: Partial<Record<string, unknown>> = {};
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.limits !== undefined) Object.assign(set, limitsToRow(changes.limits));
    if (changes.mcp_allowed_hosts !== undefined)
      set.mcp_allowed_hosts = hostsToColumn(changes.mcp_allowed_hosts);
    if (Object.keys(set).length > 0) {
      await this.db.updateTable("workspaces").set(set).where("id", "=", id).execute();
      this.onChange();
    }
    return this.get(id);
  }

  /** Archiving a workspace also archives its keys, as the hosted API does. */
  async archive(id: string): Promise<Workspace | undefined> {
    const now = Date.now();
    await this.db.transaction().execute(async (tx) => {
      await tx
        .updateTable("workspaces")
        .set({ archived_at: now })
        .where("id", "=", id)
        .where("archived_at", "is", null)
        .execute();
      await tx
        .updateTable("api_keys")
        .set({ status: "archived", updated_at: now })
        .where("workspace_id", "=", id)
        .execute();
    });
    this.onChange();
    return this.get(id);
  }

  /**
   * The workspace a config key names: an existing id, else an active workspace of that name, else a new
   * one whose id derives from the name, so instances starting together agree on it.
   */
  async resolveConfigWorkspace(ref: string): Promise<string> {
    const byId = await this.get(ref);
    if (byId) return byId.id;
    const byName = await this.db
      .selectFrom("workspaces")
      .select("id")
      .where("name", "=", ref)
      .where("archived_at", "is", null)
      .orderBy("created_at")
      .executeTakeFirst();
    if (byName) return byName.id;
    const id = `wrkspc_cfg_${createHash("sha256").update(ref).digest("hex").slice(0, 20)}`;
    const now = Date.now();
    await this.db
      .insertInto("workspaces")
      .values({
        id,
        name: ref,
        display_color: COLOURS[0],
        created_at: now,
        archived_at: null,
        ...limitsToRow(undefined),
        mcp_allowed_hosts: null,
      })
      .onConflict((oc) => oc.column("id").doNothing())
      .execute();
    return id;
  }
}

function toWorkspace(row: Selectable<WorkspaceTable>): Workspace {
  return {
    id: row.id,
    name: row.name,
    display_color: row.display_color,
    created_at: new Date(Number(row.created_at)),
    archived_at: row.archived_at === null ? null : new Date(Number(row.archived_at)),
    limits: limitsFromRow(row),
    mcp_allowed_hosts: hostsFromColumn(row.mcp_allowed_hosts) ?? null,
  };
}
