import Type, { type Static } from "typebox";
import { MCP_HOST_PATTERN } from "../../config/index.ts";

const Strict = { additionalProperties: false } as const;
const Count = Type.Integer({ minimum: 1 });

/** Parley's limits on a key or workspace (absent = unlimited); not part of the hosted objects. */
export const Limits = Type.Object(
  {
    rpm: Type.Optional(Count),
    tpm: Type.Optional(Count),
    input_tpm: Type.Optional(Count),
    output_tpm: Type.Optional(Count),
    monthly_tokens: Type.Optional(Count),
  },
  Strict,
);

const McpAllowedHosts = Type.Union(
  [Type.Array(Type.String({ pattern: MCP_HOST_PATTERN }), { maxItems: 1000 }), Type.Null()],
  { description: "MCP hosts (`host` or `host:port`) this key or workspace is narrowed to; null clears" },
);

const Models = Type.Array(Type.String({ minLength: 1 }), { description: "Model globs the key may use" });

const paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 20 })),
  after_id: Type.Optional(Type.String()),
  before_id: Type.Optional(Type.String()),
};

export const KeyStatusSchema = Type.Union([
  Type.Literal("active"),
  Type.Literal("inactive"),
  Type.Literal("archived"),
]);

export const ListKeysQuery = Type.Object({
  ...paging,
  status: Type.Optional(Type.Union([KeyStatusSchema, Type.Literal("expired")])),
  workspace_id: Type.Optional(Type.String()),
  created_by_user_id: Type.Optional(Type.String()),
});

export const CreateKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 500 }),
    workspace_id: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    models: Type.Optional(Models),
    limits: Type.Optional(Limits),
    mcp_allowed_hosts: Type.Optional(McpAllowedHosts),
  },
  Strict,
);

export const UpdateKeyBody = Type.Object(
  {
    name: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 500 }), Type.Null()])),
    status: Type.Optional(Type.Union([KeyStatusSchema, Type.Null()])),
    models: Type.Optional(Models),
    limits: Type.Optional(Limits),
    mcp_allowed_hosts: Type.Optional(McpAllowedHosts),
  },
  Strict,
);

export const ListWorkspacesQuery = Type.Object({
  ...paging,
  include_archived: Type.Optional(Type.Boolean({ default: false })),
});

export const CreateWorkspaceBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 40 }),
    limits: Type.Optional(Limits),
    mcp_allowed_hosts: Type.Optional(McpAllowedHosts),
  },
  Strict,
);

export const UpdateWorkspaceBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
    limits: Type.Optional(Limits),
    mcp_allowed_hosts: Type.Optional(McpAllowedHosts),
  },
  Strict,
);

const GroupBy = Type.Union([
  Type.Literal("api_key_id"),
  Type.Literal("workspace_id"),
  Type.Literal("model"),
  Type.Literal("service_tier"),
  Type.Literal("context_window"),
]);
const Ids = Type.Array(Type.String());

/** Query arrays arrive as `group_by[]=a&group_by[]=b` (the SDKs) or `group_by=a` (hand-written). */
export const UsageReportQuery = Type.Object({
  starting_at: Type.String({ description: "RFC 3339" }),
  ending_at: Type.Optional(Type.String({ description: "RFC 3339" })),
  bucket_width: Type.Optional(Type.Union([Type.Literal("1m"), Type.Literal("1h"), Type.Literal("1d")])),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1440 })),
  page: Type.Optional(Type.String()),
  "group_by[]": Type.Optional(Type.Array(GroupBy)),
  group_by: Type.Optional(Type.Array(GroupBy)),
  "api_key_ids[]": Type.Optional(Ids),
  api_key_ids: Type.Optional(Ids),
  "workspace_ids[]": Type.Optional(Ids),
  workspace_ids: Type.Optional(Ids),
  "models[]": Type.Optional(Ids),
  models: Type.Optional(Ids),
});

export const IdParams = Type.Object({ id: Type.String() });

export type ListKeysQuery = Static<typeof ListKeysQuery>;
export type CreateKeyBody = Static<typeof CreateKeyBody>;
export type UpdateKeyBody = Static<typeof UpdateKeyBody>;
export type ListWorkspacesQuery = Static<typeof ListWorkspacesQuery>;
export type CreateWorkspaceBody = Static<typeof CreateWorkspaceBody>;
export type UpdateWorkspaceBody = Static<typeof UpdateWorkspaceBody>;
export type UsageReportQuery = Static<typeof UsageReportQuery>;
export type IdParams = Static<typeof IdParams>;

/** `GET /v1/parley/requests`: `status` is `success`, `error` or an HTTP status code. */
export const ListRequestsQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
  after_id: Type.Optional(Type.String()),
  before_id: Type.Optional(Type.String()),
  status: Type.Optional(
    Type.Union([Type.Literal("success"), Type.Literal("error"), Type.String({ pattern: "^[1-5][0-9]{2}$" })]),
  ),
  model: Type.Optional(Type.String({ minLength: 1 })),
  api_key_id: Type.Optional(Type.String({ minLength: 1 })),
});

export type ListRequestsQuery = Static<typeof ListRequestsQuery>;
