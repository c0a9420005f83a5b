import { describe, expect, it } from "vitest";
import { composeMcpToolName, type Turn } from "../../src/protocol/index.ts";
import { renderMcpHistory } from "../../src/tools/index.ts";

const use = (id: string, name = "add") => ({
  type: "mcp_tool_use" as const,
  id,
  name,
  server_name: "docs",
  input: { a: 1 },
});
const result = (id: string, text = "2") => ({
  type: "mcp_tool_result" as const,
  tool_use_id: id,
  content: [{ type: "text" as const, text }],
});
const text = (t: string) => ({ type: "text" as const, text: t });

describe("renderMcpHistory", () => {
  it("leaves a conversation without connector blocks as it is (the same array)", () => {
    const turns: Turn[] = [{ role: "user", content: [text("hi")] }];
    expect(renderMcpHistory(turns, composeMcpToolName)).toBe(turns);
  });

  it("splits an assistant turn at its MCP results: call, result, then what the model said after", () => {
    const turns: Turn[] = [
      { role: "user", content: [text("1+1?")] },
      { role: "assistant", content: [text("Let me add."), use("m1"), result("m1"), text("It is 2.")] },
      { role: "user", content: [text("thanks")] },
    ];
    expect(renderMcpHistory(turns, composeMcpToolName)).toEqual([
      { role: "user", content: [text("1+1?")] },
      {
        role: "assistant",
        content: [text("Let me add."), { type: "tool_use", id: "m1", name: "docs_add", input: { a: 1 } }],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "m1", content: [text("2")] }] },
      { role: "assistant", content: [text("It is 2.")] },
      { role: "user", content: [text("thanks")] },
    ]);
  });

  it("puts results left at the end of a turn (pause_turn, or next to a client call) before the client's results", () => {
    const turns: Turn[] = [
      { role: "user", content: [text("go")] },
      {
        role: "assistant",
        content: [use("m1"), { type: "tool_use", id: "t1", name: "get_weather", input: {} }, result("m1")],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "sunny" }] },
    ];
    const out = renderMcpHistory(turns, composeMcpToolName);
    expect(out.map((t) => t.role)).toEqual(["user", "assistant", "user"]);
    expect(out[2].content).toEqual([
      { type: "tool_result", tool_use_id: "m1", content: [text("2")] },
      { type: "tool_result", tool_use_id: "t1", content: "sunny" },
    ]);
  });

  it("ends with a user turn of results when the conversation ends in a paused assistant turn", () => {
    const turns: Turn[] = [
      { role: "user", content: [text("go")] },
      {
        role: "assistant",
        content: [use("m1"), result("m1", "5"), use("m2"), { ...result("m2", "oops"), is_error: true }],
      },
    ];
    const out = renderMcpHistory(turns, (s, t) => `${s}__${t}`);
    expect(out.map((t) => t.role)).toEqual(["user", "assistant", "user", "assistant", "user"]);
    expect(out[1].content[0]).toMatchObject({ type: "tool_use", name: "docs__add" });
    expect(out[4].content).toEqual([
      { type: "tool_result", tool_use_id: "m2", content: [text("oops")], is_error: true },
    ]);
  });

  it("drops mcp_tool_listing blocks and makes a non-object input an empty one", () => {
    const turns: Turn[] = [
      { role: "user", content: [text("go")] },
      {
        role: "assistant",
        content: [
          { type: "mcp_tool_listing", mcp_server_name: "docs", tools: [] },
          { ...use("m1"), input: "not an object" },
          result("m1"),
        ],
      },
    ];
    const out = renderMcpHistory(turns, composeMcpToolName);
    expect(out[1].content).toEqual([{ type: "tool_use", id: "m1", name: "docs_add", input: {} }]);
  });
});
