import {
  type CustomTool,
  composeMcpToolName,
  invalidRequest,
  type McpServerParam,
  type McpToolListingEntry,
  type McpToolsetParam,
  type MessageRequest,
  type ToolChoice,
} from "../protocol/index.ts";

/** One declared server and the toolset (current beta) that configures it, if any. */
export interface ServerPlan {
  /** Index in `mcp_servers`, for error messages. */
  index: number;
  server: McpServerParam;
  toolset?: McpToolsetParam;
}

/**
 * Checks how `mcp_servers` and `mcp_toolset` entries fit together, as the hosted API does: unique
 * server names, toolsets naming declared servers once each, and (when toolsets are used, the
 * 2025-11-20 shape) every server configured by one. Without toolsets (the 2025-04-04 shape) every
 * server's tools are offered, narrowed by its `tool_configuration`.
 */
export function planServers(req: MessageRequest): ServerPlan[] {
  const plans = new Map<string, ServerPlan>();
  req.mcp_servers.forEach((server, index) => {
    if (plans.has(server.name))
      throw invalidRequest(`mcp_servers.${index}.name: MCP server names must be unique (${server.name})`);
    plans.set(server.name, { index, server });
  });
  const toolsetAt = new Map<McpToolsetParam, number>();
  (req.params.tools ?? []).forEach((t, i) => {
    if (t.type === "mcp_toolset") toolsetAt.set(t as McpToolsetParam, i);
  });
  for (const toolset of req.mcp_toolsets) {
    const at = `tools.${toolsetAt.get(toolset) ?? 0}`;
    const plan = plans.get(toolset.mcp_server_name);
    if (!plan) {
      throw invalidRequest(
        `${at}.mcp_server_name: MCP server '${toolset.mcp_server_name}' is not declared in mcp_servers`,
      );
    }
    if (plan.toolset)
      throw invalidRequest(`${at}: MCP server '${toolset.mcp_server_name}' already has an mcp_toolset`);
    plan.toolset = toolset;
  }
  if (req.mcp_toolsets.length > 0) {
    const unused = [...plans.values()].find((p) => !p.toolset);
    if (unused) {
      throw invalidRequest(
        `mcp_servers.${unused.index}: MCP server '${unused.server.name}' is not referenced by any mcp_toolset in tools`,
      );
    }
  }
  return [...plans.values()];
}

/** Whether a tool is offered (`enabled`) and whether its definition is withheld (`defer_loading`). */
export function toolSettings(plan: ServerPlan, tool: string): { enabled: boolean; deferred: boolean } {
  const legacy = plan.server.tool_configuration;
  if (legacy?.enabled === false) return { enabled: false, deferred: false };
  if (legacy?.allowed_tools && !legacy.allowed_tools.includes(tool))
    return { enabled: false, deferred: false };
  const own = plan.toolset?.configs?.[tool];
  const base = plan.toolset?.default_config;
  return {
    enabled: own?.enabled ?? base?.enabled ?? true,
    deferred: own?.defer_loading ?? base?.defer_loading ?? false,
  };
}

/** An MCP tool as the model knows it, and where the call goes. */
export interface McpToolRef {
  /** The name the model calls it by (`{server}_{tool}`, unique in the request). */
  exposed: string;
  server: string;
  /** The tool's own name on its server. */
  name: string;
  definition: CustomTool;
  /** Deferred tools stay callable but are not described to the model (Parley has no tool search). */
  deferred: boolean;
}

/** The MCP tools of one request: the names the model sees, and the way back to server and tool. */
export class McpToolMap {
  private readonly byExposed = new Map<string, McpToolRef>();
  private readonly byServerTool = new Map<string, McpToolRef>();

  constructor(plans: ServerPlan[], listings: Map<string, McpToolListingEntry[]>, taken: Set<string>) {
    const used = new Set(taken);
    for (const plan of plans) {
      for (const tool of listings.get(plan.server.name) ?? []) {
        const { enabled, deferred } = toolSettings(plan, tool.name);
        if (!enabled) continue;
        const exposed = uniqueName(composeMcpToolName(plan.server.name, tool.name), used);
        const definition: CustomTool = {
          name: exposed,
          input_schema: { type: "object", ...tool.input_schema } as CustomTool["input_schema"],
          ...(tool.description ? { description: tool.description } : {}),
        };
        const ref = { exposed, server: plan.server.name, name: tool.name, definition, deferred };
        this.byExposed.set(exposed, ref);
        this.byServerTool.set(`${plan.server.name}\n${tool.name}`, ref);
      }
    }
  }

  /** The definitions offered to the model, next to the client's own tools (a forced one even if deferred). */
  offered(forced?: string): CustomTool[] {
    return [...this.byExposed.values()]
      .filter((t) => !t.deferred || t.exposed === forced)
      .map((t) => t.definition);
  }

  byModelName(name: string): McpToolRef | undefined {
    return this.byExposed.get(name);
  }

  /** The model's name for a tool an earlier turn called (history), composed when no longer listed. */
  modelName(server: string, tool: string): string {
    return this.byServerTool.get(`${server}\n${tool}`)?.exposed ?? composeMcpToolName(server, tool);
  }

  /**
   * `tool_choice: {type: "tool", name}` may name an MCP tool by the model's name or, when that is
   * unambiguous, by its own name; it is rewritten to the model's name. Unknown names are a 400.
   */
  resolveChoice(choice: ToolChoice, clientTools: Set<string>): ToolChoice {
    if (choice.type !== "tool" || clientTools.has(choice.name) || this.byExposed.has(choice.name))
      return choice;
    const matches = [...this.byExposed.values()].filter((t) => t.name === choice.name);
    if (matches.length === 1) return { ...choice, name: matches[0].exposed };
    throw invalidRequest(`tool_choice.name: tool '${choice.name}' is not among the provided tools`);
  }

  get size(): number {
    return this.byExposed.size;
  }
}

function uniqueName(base: string, used: Set<string>): string {
  let name = base;
  for (let n = 2; used.has(name); n++) name = `${base.slice(0, 60)}_${n}`;
  used.add(name);
  return name;
}
