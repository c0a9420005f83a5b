import { describe, expect, it } from "vitest";
import type { McpConfig } from "../../src/config/index.ts";
import { emptyUsage, type MessageRequest, type StreamEvent } from "../../src/protocol/index.ts";
import type { Provider } from "../../src/providers/index.ts";
import type { McpSession } from "../../src/tools/index.ts";
import { type PassTotals, runToolLoop } from "../../src/tools/tool-loop.ts";

/**
 * Usage reported while the server-side tool loop runs: a client that leaves during a later pass
 * is charged for that pass's prompt, which the model evaluated before the first delta.
 */

const config: McpConfig = {
  connect_timeout_ms: 1000,
  list_timeout_ms: 1000,
  call_timeout_ms: 1000,
  tool_list_ttl_ms: 1000,
  max_iterations: 5,
  max_loop_ms: 10_000,
  max_result_bytes: 10_000,
};

const start = (input: number, cacheRead: number): StreamEvent => ({
  type: "message_start",
  message: {
    id: "msg_1",
    type: "message",
    role: "assistant",
    model: "mock",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: emptyUsage("2023-06-01", { input_tokens: input, cache_read_input_tokens: cacheRead }),
  },
});

/** Pass 1 calls the MCP tool; pass 2 starts a text reply and never finishes it. */
const passes: StreamEvent[][] = [
  [
    start(100, 0),
    {
      type: "content_block_start",
      index: 0,
      content_block: { type: "tool_use", id: "toolu_1", name: "docs_add", input: {} },
    },
    { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: '{"a":1}' } },
    { type: "content_block_stop", index: 0 },
    {
      type: "message_delta",
      delta: { stop_reason: "tool_use", stop_sequence: null },
      usage: { output_tokens: 7 },
    },
    { type: "message_stop" },
  ],
  [
    start(130, 100),
    { type: "content_block_start", index: 0, content_block: { type: "text", text: "", citations: null } },
    { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "The" } },
  ],
];

function scriptedProvider(): Provider {
  let pass = 0;
  return {
    kind: "mock",
    async *stream() {
      const events = passes[pass++];
      for (const event of events) yield event;
      // The second pass hangs after its first delta: only the client's leaving ends it.
      if (events === passes[1]) await new Promise(() => {});
    },
    countTokens: async () => 0,
    status: () => ({ available: true }),
  };
}

const ref = {
  exposed: "docs_add",
  server: "docs",
  name: "add",
  definition: { name: "docs_add", input_schema: { type: "object" } },
};
const session = {
  prepare: (r: MessageRequest) => r,
  fetchedListings: [{ mcp_server_name: "docs", tools: [{ name: "add", input_schema: { type: "object" } }] }],
  tools: { byModelName: (name: string) => (name === "docs_add" ? ref : undefined) },
  call: async () => ({ content: [{ type: "text", text: "2" }] }),
} as unknown as McpSession;

describe("the MCP tool loop's running usage", () => {
  it("charges a later pass's input when it starts, before the client could leave", async () => {
    const reports: PassTotals[] = [];
    const request = {
      model: "mock",
      max_tokens: 100,
      messages: [{ role: "user", content: [{ type: "text", text: "add" }] }],
      tools: [],
      tool_choice: { type: "auto" },
    } as unknown as MessageRequest;
    const loop = runToolLoop(
      scriptedProvider(),
      session,
      request,
      { signal: new AbortController().signal, requestId: "req_1" },
      config,
      (u) => reports.push(u),
    );
    const seen: string[] = [];
    const starts: unknown[] = [];
    for await (const event of loop) {
      seen.push(event.type);
      if (event.type === "content_block_start") starts.push([event.index, event.content_block.type]);
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") break; // the client leaves
    }
    expect(seen.filter((t) => t === "message_start")).toHaveLength(1);
    // The listing fetched for this reply comes first; the passes' blocks follow it.
    expect(seen.slice(0, 3)).toEqual(["message_start", "content_block_start", "content_block_stop"]);
    expect(starts).toEqual([
      [0, "mcp_tool_listing"],
      [1, "mcp_tool_use"],
      [2, "mcp_tool_result"],
      [3, "text"],
    ]);
    expect(reports).toEqual([
      { input_tokens: 100, output_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      { input_tokens: 230, output_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 100 },
    ]);
  });
});
