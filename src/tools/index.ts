export { listingsInHistory, renderMcpHistory } from "./history.ts";
export {
  checkUrl,
  type HostPolicy,
  hostPolicy,
  isPublicAddress,
  parseHostEntry,
  RefusedUrl,
} from "./host-policy.ts";
export { type McpCallResult, McpConnector, McpSession } from "./mcp-connector.ts";
export { toResultBody } from "./result-content.ts";
export { type ServerToolScope, withServerTools } from "./server-tools.ts";
export { ToolListCache } from "./tool-list-cache.ts";
export { McpToolMap, planServers, toolSettings } from "./toolset.ts";
