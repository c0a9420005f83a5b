import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { Agent, fetch as undiciFetch } from "undici";
import type { Principal } from "../auth/index.ts";
import type { McpConfig } from "../config/index.ts";
import {
  invalidRequest,
  type McpToolListingEntry,
  type MessageRequest,
  type ToolParam,
} from "../protocol/index.ts";
import { listingsInHistory, renderMcpHistory } from "./history.ts";
import { checkUrl, type HostPolicy, hostPolicy, publicOnlyLookup, RefusedUrl } from "./host-policy.ts";
import { McpConnection, type McpEndpoint } from "./mcp-connection.ts";
import { errorBody, toResultBody } from "./result-content.ts";
import { ToolListCache } from "./tool-list-cache.ts";
import { McpToolMap, type McpToolRef, planServers, type ServerPlan } from "./toolset.ts";

/** What a call to an MCP tool produced, as `mcp_tool_result` carries it. */
export type McpCallResult = ReturnType<typeof toResultBody>;

/**
 * The client side of MCP, shared by every request: the allowlist, the tool-list cache and the
 * HTTP agents (the one for unlisted hosts refuses non-public addresses at connect time too).
 */
export class McpConnector {
  readonly config: McpConfig;
  private readonly cache: ToolListCache;
  private readonly publicAgent = new Agent({ connect: { lookup: publicOnlyLookup } });
  private readonly listedAgent = new Agent();

  constructor(config: McpConfig) {
    this.config = config;
    this.cache = new ToolListCache(config.tool_list_ttl_ms);
  }

  /**
   * Checks every server of the request against the allowlist, connects where needed and lists
   * tools. Every failure here is a 400 naming the server, before the model runs.
   */
  async open(req: MessageRequest, principal: Principal, signal: AbortSignal): Promise<McpSession> {
    const plans = planServers(req);
    const policy = hostPolicy(this.config.allowed_hosts, [
      { who: "this API key", hosts: principal.mcpAllowedHosts },
      { who: "this workspace", hosts: principal.workspaceMcpAllowedHosts },
    ]);
    const endpoints = await Promise.all(plans.map((p) => this.admit(p, policy)));
    const agent = policy.allowed ? this.listedAgent : this.publicAgent;
    const fetch = ((url, init) => undiciFetch(url, { ...init, dispatcher: agent } as never)) as FetchLike;
    const session = new McpSession(this.config, fetch, signal);
    try {
      const history = listingsInHistory(req.messages);
      const listings = new Map<string, McpToolListingEntry[]>();
      await Promise.all(
        plans.map(async (plan, i) => {
          const known = plan.toolset?.tools ?? history.get(plan.server.name)?.tools;
          if (known) return listings.set(plan.server.name, known);
          const tools = await this.list(session, plan, endpoints[i]);
          listings.set(plan.server.name, tools);
          session.fetchedListings.push({ mcp_server_name: plan.server.name, tools });
        }),
      );
      // In the order the request declares its servers, whichever answered first.
      const order = plans.map((p) => p.server.name);
      session.fetchedListings.sort(
        (a, b) => order.indexOf(a.mcp_server_name) - order.indexOf(b.mcp_server_name),
      );
      session.setTools(plans, endpoints, listings, new Set(req.tools.map((t) => t.name)));
      return session;
    } catch (err) {
      await session.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.publicAgent.close(), this.listedAgent.close()]);
  }

  private async admit(plan: ServerPlan, policy: HostPolicy): Promise<McpEndpoint> {
    const { server, index } = plan;
    let url: URL;
    try {
      url = new URL(server.url);
    } catch {
      throw invalidRequest(
        `mcp_servers.${index}.url: '${server.url}' is not a valid URL (MCP server '${server.name}')`,
      );
    }
    try {
      await checkUrl(url, policy);
    } catch (err) {
      if (!(err instanceof RefusedUrl)) throw err;
      throw invalidRequest(
        `mcp_servers.${index}: MCP server '${server.name}' may not be reached: ${err.message}`,
      );
    }
    return { name: server.name, url, token: server.authorization_token ?? undefined };
  }

  private async list(
    session: McpSession,
    plan: ServerPlan,
    endpoint: McpEndpoint,
  ): Promise<McpToolListingEntry[]> {
    const key = ToolListCache.key(endpoint.url, endpoint.token);
    const cached = this.cache.get(key);
    if (cached) return cached;
    const tools = await session.listTools(plan, endpoint);
    this.cache.set(key, tools);
    return tools;
  }
}

/** One request's MCP servers: connections opened once and reused, and the tools the model is offered. */
export class McpSession {
  private readonly config: McpConfig;
  private readonly fetch: FetchLike;
  private readonly signal: AbortSignal;
  private readonly connections = new Map<string, Promise<McpConnection>>();
  private readonly endpoints = new Map<string, { plan: ServerPlan; endpoint: McpEndpoint }>();
  private map: McpToolMap | undefined;
  /** Listings asked of the servers for this request (not pinned or sent back): the reply carries them. */
  readonly fetchedListings: { mcp_server_name: string; tools: McpToolListingEntry[] }[] = [];

  constructor(config: McpConfig, fetch: FetchLike, signal: AbortSignal) {
    this.config = config;
    this.fetch = fetch;
    this.signal = signal;
  }

  setTools(
    plans: ServerPlan[],
    endpoints: McpEndpoint[],
    listings: Map<string, McpToolListingEntry[]>,
    clientTools: Set<string>,
  ): void {
    plans.forEach((plan, i) => {
      this.endpoints.set(plan.server.name, { plan, endpoint: endpoints[i] });
    });
    this.map = new McpToolMap(plans, listings, clientTools);
  }

  get tools(): McpToolMap {
    if (!this.map) throw new Error("McpSession used before its tools were listed");
    return this.map;
  }

  /** The request as the model sees it: MCP tools offered beside the client's, history rendered. */
  prepare(req: MessageRequest): MessageRequest {
    const clientTools = new Set(req.tools.map((t) => t.name));
    const choice = this.tools.resolveChoice(req.tool_choice, clientTools);
    const tools: ToolParam[] = [
      ...req.tools,
      ...this.tools.offered(choice.type === "tool" ? choice.name : undefined),
    ];
    if ((choice.type === "any" || choice.type === "tool") && tools.length === 0) {
      throw invalidRequest(
        "tool_choice: may only be specified while providing tools (no MCP tool is enabled)",
      );
    }
    const messages = renderMcpHistory(req.messages, (s, t) => this.tools.modelName(s, t));
    return { ...req, tools, tool_choice: choice, messages };
  }

  async listTools(plan: ServerPlan, endpoint: McpEndpoint): Promise<McpToolListingEntry[]> {
    const connection = await this.connection(plan, endpoint);
    try {
      return await connection.listTools(this.config.list_timeout_ms, this.signal);
    } catch (err) {
      throw unreachable(plan, `listing its tools failed: ${reason(err)}`);
    }
  }

  /** Runs one call. A failing tool or server is a result with `is_error: true`, for the model to see. */
  async call(ref: McpToolRef, input: Record<string, unknown>): Promise<McpCallResult> {
    const known = this.endpoints.get(ref.server);
    if (!known) return errorBody(`MCP server '${ref.server}' is not declared in this request`);
    try {
      const connection = await this.connection(known.plan, known.endpoint);
      const result = await connection.callTool(ref.name, input, this.config.call_timeout_ms, this.signal);
      return toResultBody(result, this.config.max_result_bytes);
    } catch (err) {
      this.signal.throwIfAborted();
      return errorBody(`Calling ${ref.name} on MCP server '${ref.server}' failed: ${reason(err)}`);
    }
  }

  async close(): Promise<void> {
    const open = [...this.connections.values()];
    this.connections.clear();
    await Promise.allSettled(open.map(async (c) => (await c).close()));
  }

  private connection(plan: ServerPlan, endpoint: McpEndpoint): Promise<McpConnection> {
    let c = this.connections.get(plan.server.name);
    if (!c) {
      c = McpConnection.open(endpoint, {
        fetch: this.fetch,
        timeoutMs: this.config.connect_timeout_ms,
        signal: this.signal,
      }).catch((err: unknown) => {
        this.connections.delete(plan.server.name);
        this.signal.throwIfAborted();
        throw unreachable(plan, reason(err));
      });
      this.connections.set(plan.server.name, c);
    }
    return c;
  }
}

const unreachable = (plan: ServerPlan, why: string) =>
  invalidRequest(
    `mcp_servers.${plan.index}: could not connect to MCP server '${plan.server.name}' (${safeOrigin(plan.server.url)}): ${why}`,
  );

const safeOrigin = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return "invalid URL";
  }
};

/** A short, client-safe reason: the error's message and its cause's code, never headers or tokens. */
function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message;
  return detail && !err.message.includes(detail) ? `${err.message} (${detail})` : err.message;
}
