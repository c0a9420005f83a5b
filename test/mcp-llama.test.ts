/**
 * The MCP connector on the embedded llama backend (tiny random-weight fixture): a forced call to
 * an MCP tool is generated under the tool's JSON-schema grammar, run on a real MCP server, and
 * its result comes back in the same reply.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeMcpServer, startFakeMcpServer } from "./fakes/mcp-server.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

const MODELS_DIR = resolve(process.env.PARLEY_MODELS_DIR ?? join(import.meta.dirname, "../../shared/models"));
const TINY = join(MODELS_DIR, "llama-2-tiny-random.gguf");
const present = existsSync(TINY);
if (!present)
  console.warn(`MCP llama test skipped: ${TINY} not found (set PARLEY_MODELS_DIR to the fixtures folder)`);

describe.skipIf(!present)("MCP connector on llama", () => {
  let mcp: FakeMcpServer;
  let server: TestServer;

  beforeAll(async () => {
    mcp = await startFakeMcpServer();
    server = await startTestServer({
      models: [{ id: "tiny", provider: "llama", path: TINY, context_window: 4096, parallel: 1 }],
      mcp: { allowed_hosts: ["127.0.0.1"], max_iterations: 2 },
    });
  });
  afterAll(async () => {
    await server?.stop();
    await mcp?.close();
  });

  it("generates a grammar-valid forced call to an MCP tool and returns the server's real result", async () => {
    for (const stream of [false, true]) {
      const params = {
        model: "tiny",
        max_tokens: 48,
        betas: ["mcp-client-2025-11-20"],
        mcp_servers: [{ type: "url" as const, url: `${mcp.origin}/mcp`, name: "docs" }],
        tools: [
          {
            type: "mcp_toolset" as const,
            mcp_server_name: "docs",
            default_config: { enabled: false },
            configs: { echo: { enabled: true } },
          },
        ],
        tool_choice: { type: "tool" as const, name: "echo" },
        // Greedy: sampled, the random model can emit bytes that break the string's maxLength (see llama.test.ts).
        temperature: 0,
        messages: [{ role: "user" as const, content: "Echo the word hello." }],
      };
      const client = server.client();
      const reply = stream
        ? await client.beta.messages.stream(params).finalMessage()
        : await client.beta.messages.create(params);
      const [listing, use, result] = reply.content;
      expect(listing).toMatchObject({ type: "mcp_tool_listing", mcp_server_name: "docs" });
      expect(use).toMatchObject({ type: "mcp_tool_use", name: "echo", server_name: "docs" });
      const input = use.type === "mcp_tool_use" ? (use.input as { text: string }) : { text: "" };
      const schema = {
        type: "object",
        properties: { text: { type: "string", maxLength: 12 } },
        required: ["text"],
      };
      expect(new Ajv({ strict: false }).validate(schema, input)).toBe(true);
      expect(result).toEqual({
        type: "mcp_tool_result",
        tool_use_id: use.type === "mcp_tool_use" ? use.id : "",
        is_error: false,
        content: [{ type: "text", text: `echo: ${input.text}`, citations: null }],
      });
      expect(reply.usage.iterations?.length).toBeGreaterThanOrEqual(1);
      expect(reply.usage.output_tokens).toBeLessThanOrEqual(48);
      expect(["end_turn", "max_tokens", "pause_turn", "tool_use"]).toContain(reply.stop_reason);
    }
  });
});
