import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { FetchLike, Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { McpToolListingEntry } from "../protocol/index.ts";

/** Where one MCP server is and how to authenticate to it. */
export interface McpEndpoint {
  name: string;
  url: URL;
  /** Sent as `Authorization: Bearer …`; never logged. */
  token?: string;
}

export interface ConnectOptions {
  fetch: FetchLike;
  timeoutMs: number;
  signal: AbortSignal;
}

const CLIENT_INFO = { name: "parley-mcp-connector", version: "0.1.0" };

/** The SDK's client side, loaded on the first MCP request so servers and CLIs that never use it start faster. */
const sdk = async () => {
  const [client, sse, http] = await Promise.all([
    import("@modelcontextprotocol/sdk/client/index.js"),
    import("@modelcontextprotocol/sdk/client/sse.js"),
    import("@modelcontextprotocol/sdk/client/streamableHttp.js"),
  ]);
  return { ...client, ...sse, ...http };
};
const MAX_LIST_PAGES = 20;

/**
 * One open MCP client session, reused for every list and call of a request. Streamable HTTP is
 * tried first; a server that answers it with a 4xx (an older server) is spoken to over SSE.
 */
export class McpConnection {
  private readonly client: Client;
  readonly transport: "streamable-http" | "sse";

  private constructor(client: Client, transport: "streamable-http" | "sse") {
    this.client = client;
    this.transport = transport;
  }

  static async open(endpoint: McpEndpoint, options: ConnectOptions): Promise<McpConnection> {
    const { Client, SSEClientTransport, StreamableHTTPClientTransport, StreamableHTTPError } = await sdk();
    const client = () => new Client(CLIENT_INFO, { capabilities: {} });
    const transportOptions = {
      fetch: options.fetch,
      requestInit: endpoint.token ? { headers: { Authorization: `Bearer ${endpoint.token}` } } : {},
    };
    try {
      const http = new StreamableHTTPClientTransport(endpoint.url, transportOptions);
      return new McpConnection(await connect(client(), http, options), "streamable-http");
    } catch (err) {
      const status = err instanceof StreamableHTTPError ? (err.code ?? 0) : 0;
      // Older servers answer a Streamable HTTP POST with 404/405 and so on; refused auth stays refused.
      if (status < 400 || status >= 500 || status === 401 || status === 403) throw err;
    }
    const sse = new SSEClientTransport(endpoint.url, transportOptions);
    return new McpConnection(await connect(client(), sse, options), "sse");
  }

  /** Every page of the server's tool list, as the hosted API's `mcp_tool_listing` shows tools. */
  async listTools(timeoutMs: number, signal: AbortSignal): Promise<McpToolListingEntry[]> {
    const tools: McpToolListingEntry[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const result = await this.client.listTools(cursor ? { cursor } : undefined, {
        timeout: timeoutMs,
        signal,
      });
      for (const t of result.tools) {
        tools.push({ name: t.name, description: t.description ?? null, input_schema: t.inputSchema });
      }
      cursor = result.nextCursor;
      if (!cursor) break;
    }
    return tools;
  }

  async callTool(
    name: string,
    input: Record<string, unknown>,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<CallToolResult> {
    const result = await this.client.callTool({ name, arguments: input }, undefined, {
      timeout: timeoutMs,
      maxTotalTimeout: timeoutMs,
      signal,
    });
    return result as CallToolResult;
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => {});
  }
}

/**
 * `connect` bounded as a whole: the SDK's request timeout covers `initialize`, not an SSE stream
 * that never sends its endpoint, so the deadline is enforced here and the transport closed on it.
 */
async function connect(client: Client, transport: Transport, options: ConnectOptions): Promise<Client> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
  });
  try {
    await Promise.race([
      client.connect(transport, { timeout: options.timeoutMs, signal: options.signal }),
      deadline,
    ]);
    return client;
  } catch (err) {
    await client.close().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
