/**
 * The name the model sees for an MCP tool: `{server}_{tool}`, as the hosted API composes it, made
 * safe for every backend's tool-name rules (OpenAI allows `[a-zA-Z0-9_-]{1,64}`).
 */
export function composeMcpToolName(server: string, tool: string): string {
  return `${server}_${tool}`.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64);
}
