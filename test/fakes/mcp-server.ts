/**
 * A real MCP server built with the official SDK, on 127.0.0.1: Streamable HTTP at `/mcp`
 * (stateless) and the older SSE transport at `/sse` (+ `/messages`). Its tools: `echo`, `add`,
 * `fail` (reports an error), `slow` (waits, bounded, and stops when cancelled), `big` (a large
 * result), `again` (returns a mock directive that calls it again) and `whoami` (the bearer token seen).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

export interface FakeMcpServer {
  origin: string;
  /** Every HTTP request received: method, path and the JSON-RPC method when there is one. */
  requests: { method: string; path: string; rpc?: string; authorization?: string }[];
  close(): Promise<void>;
}

const text = (t: string) => ({ content: [{ type: "text" as const, text: t }] });

function buildServer(authorization: string | undefined): McpServer {
  const server = new McpServer({ name: "fake-docs", version: "1.0.0" });
  server.registerTool(
    "echo",
    { description: "Echoes its text", inputSchema: { text: z.string().max(12) } },
    async ({ text: t }) => text(`echo: ${t}`),
  );
  server.registerTool(
    "add",
    { description: "Adds two numbers", inputSchema: { a: z.number(), b: z.number() } },
    async ({ a, b }) => text(String(a + b)),
  );
  server.registerTool("fail", { description: "Always fails" }, async () => ({
    isError: true,
    content: [{ type: "text" as const, text: "the fail tool failed on purpose" }],
  }));
  server.registerTool(
    "slow",
    { description: "Waits (at most 5 s)", inputSchema: { ms: z.number().int().min(0).max(5000) } },
    async ({ ms }, extra) => {
      await sleep(ms, undefined, { signal: extra.signal });
      return text(`slept ${ms} ms`);
    },
  );
  server.registerTool("big", { description: "A 300 kB result" }, async () => text("x".repeat(300_000)));
  server.registerTool("again", { description: "Asks the mock to call it again" }, async () =>
    text("[[mcp:docs/again {}]]"),
  );
  server.registerTool("whoami", { description: "The bearer token it was called with" }, async () =>
    text(authorization ?? "(none)"),
  );
  return server;
}

export async function startFakeMcpServer(): Promise<FakeMcpServer> {
  const requests: FakeMcpServer["requests"] = [];
  const sse = new Map<string, SSEServerTransport>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const body = raw ? (JSON.parse(raw) as { method?: string }) : undefined;
      const url = new URL(req.url ?? "/", "http://x");
      requests.push({
        method: req.method ?? "GET",
        path: url.pathname,
        rpc: body?.method,
        authorization: req.headers.authorization,
      });
      handle(req, res, url, body, sse).catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const t of sse.values()) await t.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function handle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  body: unknown,
  sse: Map<string, SSEServerTransport>,
): Promise<void> {
  const auth = req.headers.authorization?.replace(/^Bearer /, "");
  if (url.pathname === "/mcp" && req.method === "POST") {
    const mcp = buildServer(auth);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on("close", () => {
      void transport.close();
      void mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, body);
    return;
  }
  if (url.pathname === "/sse" && req.method === "GET") {
    const transport = new SSEServerTransport("/messages", res);
    sse.set(transport.sessionId, transport);
    res.on("close", () => sse.delete(transport.sessionId));
    await buildServer(auth).connect(transport);
    return;
  }
  if (url.pathname === "/messages" && req.method === "POST") {
    const transport = sse.get(url.searchParams.get("sessionId") ?? "");
    if (!transport) {
      res.writeHead(404).end();
      return;
    }
    await transport.handlePostMessage(req, res, body);
    return;
  }
  res.writeHead(405, { "content-type": "application/json" }).end('{"error":"method not allowed"}');
}
