import type { Principal } from "../auth/index.ts";
import { composeMcpToolName, type MessageRequest, type StreamEvent } from "../protocol/index.ts";
import type { Provider, StreamOptions } from "../providers/index.ts";
import { renderMcpHistory } from "./history.ts";
import type { McpConnector } from "./mcp-connector.ts";
import { type PassTotals, runToolLoop } from "./tool-loop.ts";

/** Who runs the request and with what connector: the caller's side of the server-side tools. */
export interface ServerToolScope {
  mcp: McpConnector;
  principal: Principal;
  /** Told the usage of all passes so far after each one, so a reply cut short is still counted. */
  onUsage?: (usage: PassTotals) => void;
}

/**
 * The provider's reply with Parley's server-side tools around it (for backends that do not run
 * them themselves). Without `mcp_servers` the request passes straight through, with earlier
 * `mcp_tool_use`/`mcp_tool_result` blocks rendered as plain tool calls so every backend reads them.
 */
export function withServerTools(
  provider: Provider,
  request: MessageRequest,
  options: StreamOptions,
  scope: ServerToolScope,
): AsyncIterable<StreamEvent> {
  if (request.mcp_servers.length === 0) {
    // The provider's own stream, without a generator around each event.
    const messages = renderMcpHistory(request.messages, composeMcpToolName);
    return provider.stream(messages === request.messages ? request : { ...request, messages }, options);
  }
  return withMcpSession(provider, request, options, scope);
}

async function* withMcpSession(
  provider: Provider,
  request: MessageRequest,
  options: StreamOptions,
  scope: ServerToolScope,
): AsyncGenerator<StreamEvent> {
  const session = await scope.mcp.open(request, scope.principal, options.signal);
  try {
    yield* runToolLoop(provider, session, request, options, scope.mcp.config, scope.onUsage);
  } finally {
    await session.close();
  }
}
