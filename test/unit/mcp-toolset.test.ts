import { describe, expect, it } from "vitest";
import {
  composeMcpToolName,
  type McpToolListingEntry,
  type MessageCreateParams,
  toMessageRequest,
} from "../../src/protocol/index.ts";
import { McpToolMap, planServers, toolSettings } from "../../src/tools/index.ts";

const context = { apiVersion: "2023-06-01" as const, rawApiVersion: "2023-06-01", betas: [] };
const request = (extra: Partial<MessageCreateParams>) =>
  toMessageRequest(
    { model: "m", max_tokens: 10, messages: [{ role: "user", content: "hi" }], ...extra },
    context,
  );
const server = (name: string, extra = {}) => ({
  type: "url" as const,
  url: `https://${name}.example.com/mcp`,
  name,
  ...extra,
});
const listing = (...names: string[]): McpToolListingEntry[] =>
  names.map((name) => ({ name, input_schema: { type: "object", properties: {} } }));

describe("planServers", () => {
  it("keeps mcp_toolset entries out of the tools the providers see", () => {
    const req = request({
      mcp_servers: [server("docs")],
      tools: [
        { name: "client_tool", input_schema: { type: "object" } },
        { type: "mcp_toolset", mcp_server_name: "docs" },
      ],
    });
    expect(req.tools.map((t) => t.name)).toEqual(["client_tool"]);
    expect(req.mcp_toolsets).toEqual([{ type: "mcp_toolset", mcp_server_name: "docs" }]);
    expect(planServers(req)[0].toolset).toBe(req.mcp_toolsets[0]);
  });

  it.each([
    [
      { mcp_servers: [server("a"), server("a")] },
      /mcp_servers\.1\.name: MCP server names must be unique \(a\)/,
    ],
    [
      { mcp_servers: [server("a")], tools: [{ type: "mcp_toolset" as const, mcp_server_name: "b" }] },
      /tools\.0\.mcp_server_name: MCP server 'b' is not declared in mcp_servers/,
    ],
    [
      {
        mcp_servers: [server("a")],
        tools: [
          { type: "mcp_toolset" as const, mcp_server_name: "a" },
          { type: "mcp_toolset" as const, mcp_server_name: "a" },
        ],
      },
      /tools\.1: MCP server 'a' already has an mcp_toolset/,
    ],
    [
      {
        mcp_servers: [server("a"), server("b")],
        tools: [{ type: "mcp_toolset" as const, mcp_server_name: "a" }],
      },
      /mcp_servers\.1: MCP server 'b' is not referenced by any mcp_toolset/,
    ],
  ])("refuses %j", (extra, message) => {
    expect(() => planServers(request(extra))).toThrow(message);
  });
});

describe("toolSettings", () => {
  it("applies default_config, then per-tool configs (2025-11-20)", () => {
    const [plan] = planServers(
      request({
        mcp_servers: [server("a")],
        tools: [
          {
            type: "mcp_toolset",
            mcp_server_name: "a",
            default_config: { enabled: false, defer_loading: true },
            configs: { search: { enabled: true }, fetch: { enabled: true, defer_loading: false } },
          },
        ],
      }),
    );
    expect(toolSettings(plan, "other")).toEqual({ enabled: false, deferred: true });
    expect(toolSettings(plan, "search")).toEqual({ enabled: true, deferred: true });
    expect(toolSettings(plan, "fetch")).toEqual({ enabled: true, deferred: false });
  });

  it("applies tool_configuration (2025-04-04)", () => {
    const plans = planServers(
      request({
        mcp_servers: [
          server("a", { tool_configuration: { allowed_tools: ["search"] } }),
          server("b", { tool_configuration: { enabled: false } }),
        ],
      }),
    );
    expect(toolSettings(plans[0], "search").enabled).toBe(true);
    expect(toolSettings(plans[0], "fetch").enabled).toBe(false);
    expect(toolSettings(plans[1], "search").enabled).toBe(false);
  });
});

describe("McpToolMap", () => {
  it("offers tools as {server}_{tool}, unique beside the client's tools, and maps calls back", () => {
    const req = request({ mcp_servers: [server("docs"), server("web")] });
    const listings = new Map([
      ["docs", listing("search", "get.page")],
      ["web", listing("search")],
    ]);
    const map = new McpToolMap(planServers(req), listings, new Set(["docs_search"]));
    expect(map.offered().map((t) => t.name)).toEqual(["docs_search_2", "docs_get_page", "web_search"]);
    expect(map.byModelName("docs_get_page")).toMatchObject({ server: "docs", name: "get.page" });
    expect(map.modelName("docs", "search")).toBe("docs_search_2");
    expect(map.modelName("docs", "gone")).toBe(composeMcpToolName("docs", "gone"));
  });

  it("resolves a forced tool_choice by the model's name or an unambiguous own name", () => {
    const req = request({ mcp_servers: [server("docs"), server("web")] });
    const listings = new Map([
      ["docs", listing("search", "fetch")],
      ["web", listing("search")],
    ]);
    const map = new McpToolMap(planServers(req), listings, new Set());
    expect(map.resolveChoice({ type: "tool", name: "fetch" }, new Set())).toEqual({
      type: "tool",
      name: "docs_fetch",
    });
    expect(map.resolveChoice({ type: "tool", name: "web_search" }, new Set())).toEqual({
      type: "tool",
      name: "web_search",
    });
    expect(() => map.resolveChoice({ type: "tool", name: "search" }, new Set())).toThrow(
      /not among the provided tools/,
    );
  });
});
