import type { ApiKey, Workspace } from "../../store/index.ts";

/** An API key as the hosted Admin API shows it, plus Parley's `models` and `limits`. */
export function apiKeyObject(k: ApiKey) {
  return {
    id: k.id,
    type: "api_key" as const,
    name: k.name,
    status: k.status,
    workspace_id: k.workspace_id,
    scope: k.workspace_id
      ? { type: "workspace" as const, workspace_id: k.workspace_id }
      : { type: "organization" as const },
    created_at: k.created_at.toISOString(),
    created_by: k.created_by ? { id: k.created_by, type: "user" as const } : null,
    expires_at: null,
    partial_key_hint: k.hint,
    principal: null,
    models: k.models,
    limits: k.limits,
    mcp_allowed_hosts: k.mcp_allowed_hosts,
  };
}

export function workspaceObject(w: Workspace) {
  return {
    id: w.id,
    type: "workspace" as const,
    name: w.name,
    display_color: w.display_color,
    created_at: w.created_at.toISOString(),
    archived_at: w.archived_at ? w.archived_at.toISOString() : null,
    limits: w.limits,
    mcp_allowed_hosts: w.mcp_allowed_hosts,
  };
}
