/**
 * The arithmetic of each context edit, on recorded and synthetic conversations, counted with
 * the mock's documented tokenizer (a token is a word): triggers, keeps, exclusions,
 * clear_at_least, placeholders, and the exact `applied_edits` they report.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ModelConfig } from "../../src/config/index.ts";
import {
  CLEARED_TOOL_RESULT,
  clearThinking,
  clearToolUses,
  contextSettings,
  dropBeforeCompaction,
  editRequest,
  hostedChoice,
  listToolUses,
  planEdits,
  summaryTurn,
} from "../../src/context/index.ts";
import { type MessageCreateParams, type MessageRequest, toMessageRequest } from "../../src/protocol/index.ts";
import { countMockTokens, renderMockPrompt } from "../../src/providers/mock/index.ts";
import { toolConversation } from "../helpers/tool-conversation.ts";

const ctx = { apiVersion: "2023-06-01" as const, rawApiVersion: "2023-06-01", betas: [] };
const request = (body: Partial<MessageCreateParams>): MessageRequest =>
  toMessageRequest(
    { model: "mock", max_tokens: 10, messages: [{ role: "user", content: "hi" }], ...body },
    ctx,
  );
const count = async (r: MessageRequest) => countMockTokens(renderMockPrompt(r));
const mock: ModelConfig = { id: "mock", provider: "mock" };
const small: ModelConfig = {
  id: "small",
  provider: "mock",
  context_window: 4096,
  context_management: { trigger: "85%", clear_at_least: 512 },
};
/** Tokens of the placeholder that replaces a cleared result. */
const P = countMockTokens(CLEARED_TOOL_RESULT);
const edits = (list: unknown[]) => ({ edits: list }) as MessageCreateParams["context_management"];

describe("planEdits: defaults and checks", () => {
  it.each([
    [
      { type: "clear_tool_uses_20250919" },
      {
        trigger: { type: "input_tokens", value: 100_000 },
        keep: 3,
        clearAtLeast: undefined,
        clearInputs: false,
      },
    ],
    [
      {
        type: "clear_tool_uses_20250919",
        trigger: { type: "tool_uses", value: 5 },
        keep: { type: "tool_uses", value: 1 },
      },
      { trigger: { type: "tool_uses", value: 5 }, keep: 1 },
    ],
    [{ type: "clear_thinking_20251015" }, { keep: 1 }],
    [{ type: "clear_thinking_20251015", keep: "all" }, { keep: "all" }],
    [{ type: "clear_thinking_20251015", keep: { type: "all" } }, { keep: "all" }],
    [{ type: "clear_thinking_20251015", keep: { type: "thinking_turns", value: 2 } }, { keep: 2 }],
    [{ type: "compact_20260112" }, { trigger: 150_000, pause: false }],
    [
      { type: "compact_20260112", instructions: "  " },
      { instructions: expect.stringContaining("<summary>") },
    ],
    [{ type: "compact_20260112", instructions: "Only facts." }, { instructions: "Only facts." }],
  ])("%j", (edit, expected) => {
    const [plan] = planEdits(edits([edit]), contextSettings(mock));
    expect(plan).toMatchObject(expected);
  });

  it("a model's own trigger replaces a request trigger larger than its window, not a smaller one", () => {
    const settings = contextSettings(small);
    expect(settings).toMatchObject({ window: 4096, trigger: 3481, clearAtLeast: 512 });
    const [big, compact] = planEdits(
      edits([
        { type: "clear_tool_uses_20250919", clear_at_least: { type: "input_tokens", value: 20_000 } },
        { type: "compact_20260112", trigger: { type: "input_tokens", value: 60_000 } },
      ]),
      settings,
    );
    expect(big).toMatchObject({ trigger: { value: 3481 }, clearAtLeast: 512 });
    expect(compact).toMatchObject({ trigger: 3481 });
    const [own] = planEdits(
      edits([{ type: "clear_tool_uses_20250919", trigger: { type: "input_tokens", value: 2000 } }]),
      settings,
    );
    expect(own).toMatchObject({ trigger: { value: 2000 } });
  });

  it.each([
    [[{ type: "compact_20260112", trigger: { type: "input_tokens", value: 49_999 } }], /at least 50000/],
    [[{ type: "clear_tool_uses_20250919" }, { type: "clear_thinking_20251015" }], /must be the first edit/],
    [[{ type: "clear_tool_uses_20250919" }, { type: "clear_tool_uses_20250919" }], /only once/],
  ])("refuses %j", (list, message) => {
    expect(() => planEdits(edits(list), contextSettings(mock))).toThrow(message);
  });
});

describe("clear_thinking_20251015", () => {
  const turns = request({ messages: toolConversation(4, 5, { thinking: true }) }).messages;
  it.each([
    [1, 3],
    [2, 2],
    [0, 4],
    [9, 0],
    ["all" as const, 0],
  ])("keep %j clears %i turns, newest kept", (keep, cleared) => {
    const out = clearThinking(turns, keep);
    expect(out.cleared).toBe(cleared);
    const withThinking = out.turns.filter((t) => t.content.some((b) => b.type === "thinking")).length;
    expect(withThinking).toBe(4 - cleared);
    if (cleared < 4 && keep !== "all") expect(out.turns.at(-2)?.content[0]?.type).toBe("thinking");
  });
});

describe("clear_tool_uses_20250919", () => {
  const turns = request({ messages: toolConversation(6, 50) }).messages;
  const plan = (extra: object) =>
    planEdits(
      edits([{ type: "clear_tool_uses_20250919", ...extra }]),
      contextSettings(mock),
    )[0] as Parameters<typeof hostedChoice>[1];

  it.each([
    [{}, ["toolu_0000", "toolu_0001", "toolu_0002"]],
    [{ keep: { type: "tool_uses", value: 5 } }, ["toolu_0000"]],
    [{ keep: { type: "tool_uses", value: 6 } }, []],
    [
      { keep: { type: "tool_uses", value: 0 }, exclude_tools: ["grep"] },
      ["toolu_0000", "toolu_0002", "toolu_0004"],
    ],
    [{ exclude_tools: ["read_file"] }, []],
  ])("%j clears the oldest beyond keep: %j", (extra, ids) => {
    expect(hostedChoice(listToolUses(turns), plan(extra)).map((u) => u.id)).toEqual(ids);
  });

  it("replaces results with the placeholder and clears inputs only when told", () => {
    const ids = new Set(["toolu_0000", "toolu_0001"]);
    const all = clearToolUses(turns, ids, true);
    const byName = clearToolUses(turns, ids, new Set(["grep"]));
    const results = all.flatMap((t) =>
      t.content.flatMap((b) => (b.type === "tool_result" ? [b.content] : [])),
    );
    expect(results.slice(0, 2)).toEqual([CLEARED_TOOL_RESULT, CLEARED_TOOL_RESULT]);
    expect(results[2]).not.toBe(CLEARED_TOOL_RESULT);
    const inputs = (ts: typeof turns) =>
      ts.flatMap((t) => t.content.flatMap((b) => (b.type === "tool_use" ? [b.input] : []))).slice(0, 3);
    expect(inputs(all)).toEqual([{}, {}, { path: "src/file-2.ts" }]);
    expect(inputs(byName)).toEqual([{ path: "src/file-0.ts" }, {}, { path: "src/file-2.ts" }]);
    expect(turns[2].content[0]).toMatchObject({ type: "tool_result" });
    expect((turns[2].content[0] as { content: string }).content).not.toBe(CLEARED_TOOL_RESULT);
  });
});

describe("editRequest: applied_edits and counts", () => {
  const messages = toolConversation(6, 50);
  const run = (list: unknown[], config: ModelConfig = mock, max_tokens = 10) =>
    editRequest(
      request({ messages, max_tokens, context_management: edits(list) }),
      contextSettings(config),
      count,
      {
        measure: true,
      },
    );

  it("below the trigger nothing changes and applied_edits is empty", async () => {
    const out = await run([{ type: "clear_tool_uses_20250919" }]);
    expect(out.applied).toEqual([]);
    expect(out.report).toBe(true);
    expect(out.tokens).toBe(out.originalTokens);
  });

  it("past an input_tokens trigger: cleared_input_tokens is the exact difference", async () => {
    const original = await count(request({ messages }));
    const out = await run([
      { type: "clear_tool_uses_20250919", trigger: { type: "input_tokens", value: 100 } },
    ]);
    const cleared = clearToolUses(
      request({ messages }).messages,
      new Set(["toolu_0000", "toolu_0001", "toolu_0002"]),
      false,
    );
    const after = await count({ ...request({ messages }), messages: cleared });
    expect(out.originalTokens).toBe(original);
    expect(out.tokens).toBe(after);
    // Each 50-word result becomes the placeholder.
    expect(original - after).toBe(3 * (50 - P));
    expect(out.applied).toEqual([
      { type: "clear_tool_uses_20250919", cleared_input_tokens: original - after, cleared_tool_uses: 3 },
    ]);
  });

  it("a tool_uses trigger counts tool uses; clear_at_least above what can be cleared skips the edit", async () => {
    const passed = await run([
      { type: "clear_tool_uses_20250919", trigger: { type: "tool_uses", value: 5 } },
    ]);
    expect(passed.applied[0]).toMatchObject({ cleared_tool_uses: 3, cleared_input_tokens: 3 * (50 - P) });
    const notYet = await run([
      { type: "clear_tool_uses_20250919", trigger: { type: "tool_uses", value: 6 } },
    ]);
    expect(notYet.applied).toEqual([]);
    const tooLittle = await run([
      {
        type: "clear_tool_uses_20250919",
        trigger: { type: "tool_uses", value: 1 },
        clear_at_least: { type: "input_tokens", value: 3 * (50 - P) + 1 },
      },
    ]);
    expect(tooLittle.applied).toEqual([]);
    expect(tooLittle.tokens).toBe(tooLittle.originalTokens);
  });

  it("thinking first, then tool uses, each measured on the prompt the previous one left", async () => {
    const thinking = toolConversation(4, 50, { thinking: true });
    const out = await editRequest(
      request({
        messages: thinking,
        context_management: edits([
          { type: "clear_thinking_20251015", keep: { type: "thinking_turns", value: 1 } },
          {
            type: "clear_tool_uses_20250919",
            trigger: { type: "input_tokens", value: 10 },
            keep: { type: "tool_uses", value: 2 },
          },
        ]),
      }),
      contextSettings(mock),
      count,
      { measure: true },
    );
    // Each thinking block is "step N:" plus 20 words.
    expect(out.applied).toEqual([
      { type: "clear_thinking_20251015", cleared_input_tokens: 3 * 22, cleared_thinking_turns: 3 },
      { type: "clear_tool_uses_20250919", cleared_input_tokens: 2 * (50 - P), cleared_tool_uses: 2 },
    ]);
    expect((out.originalTokens ?? 0) - (out.tokens ?? 0)).toBe(3 * 22 + 2 * (50 - P));
  });

  it("the opt-in overflow rescue clears in clear_at_least steps, so the next turns clear the same", async () => {
    const rescue: ModelConfig = {
      id: "r",
      provider: "mock",
      context_window: 1000,
      max_output_tokens: 100,
      context_management: { clear_tool_uses_on_overflow: true, clear_at_least: 200 },
    };
    const turn = async (uses: number) => {
      const r = request({ messages: toolConversation(uses, 100), max_tokens: 100 });
      return {
        out: await editRequest(r, contextSettings(rescue), count, { measure: true }),
        full: await count(r),
      };
    };
    const a = await turn(9);
    const b = await turn(10);
    expect(a.full).toBeGreaterThan(900);
    expect(a.out.tokens).toBeLessThanOrEqual(900);
    expect(a.out.report).toBe(true);
    const cleared = (x: typeof a) =>
      x.out.applied[0]?.type === "clear_tool_uses_20250919" ? x.out.applied[0].cleared_tool_uses : 0;
    // The cleared set changes in steps: one more turn of ~110 tokens does not move it.
    expect(cleared(b)).toBe(cleared(a));
    expect(b.out.tokens).toBeLessThanOrEqual(900);
    const off = await editRequest(
      request({ messages: toolConversation(9, 100), max_tokens: 100 }),
      contextSettings({ ...rescue, context_management: {} }),
      count,
    );
    expect(off.applied).toEqual([]);
  });
});

describe("compaction blocks sent back", () => {
  const base = toolConversation(2, 5);
  it("replace everything before the last one, rendered as the summary turn", () => {
    const turns = request({
      messages: [
        ...base,
        {
          role: "assistant",
          content: [
            { type: "compaction", content: "old summary" },
            { type: "text", text: "Done." },
          ],
        },
        { role: "user", content: "next" },
      ],
    }).messages;
    expect(dropBeforeCompaction(turns)).toEqual([
      summaryTurn("old summary"),
      { role: "assistant", content: [{ type: "text", text: "Done." }] },
      { role: "user", content: [{ type: "text", text: "next" }] },
    ]);
  });

  it("a failed compaction (content null) is a no-op and is dropped", () => {
    const turns = request({
      messages: [
        { role: "user", content: "hi" },
        {
          role: "assistant",
          content: [
            { type: "compaction", content: null },
            { type: "text", text: "ok" },
          ],
        },
        { role: "user", content: "next" },
      ],
    }).messages;
    expect(dropBeforeCompaction(turns).map((t) => t.content.map((b) => b.type))).toEqual([
      ["text"],
      ["text"],
      ["text"],
    ]);
  });
});

describe("on a recorded Claude Code conversation", () => {
  const shared = process.env.PARLEY_SHARED_DIR ?? join(import.meta.dirname, "../../../shared");
  const capture = join(shared, "wire/captures/claude-code-2.1.332-tool.jsonl");
  it.skipIf(!existsSync(capture))(
    "clear_thinking keep all (what Claude Code sends) changes nothing",
    async () => {
      const body = JSON.parse(readFileSync(capture, "utf8").trim().split("\n")[1])
        .body as MessageCreateParams;
      const req = toMessageRequest(body, ctx);
      const out = await editRequest(req, contextSettings(mock), count, { measure: true });
      expect(out.applied).toEqual([]);
      expect(out.request.messages).toEqual(req.messages);
      expect(out.tokens).toBe(await count(req));
      const cleared = await editRequest(
        {
          ...req,
          params: {
            ...body,
            context_management: edits([
              {
                type: "clear_tool_uses_20250919",
                trigger: { type: "input_tokens", value: 1 },
                keep: { type: "tool_uses", value: 0 },
              },
            ]),
          },
        },
        contextSettings(mock),
        count,
      );
      // Its one tool result ("hello-from-tool") is shorter than the placeholder: nothing to gain.
      expect(cleared.applied).toEqual([]);
    },
  );
});

describe("clear_at_least keeps the cleared set stable between steps", () => {
  it("clears in whole steps, so consecutive turns often clear exactly the same results", async () => {
    const step = 2 * (50 - P);
    const cleared: number[] = [];
    for (let uses = 4; uses <= 12; uses++) {
      const out = await editRequest(
        request({
          messages: toolConversation(uses, 50),
          context_management: edits([
            {
              type: "clear_tool_uses_20250919",
              trigger: { type: "input_tokens", value: 100 },
              keep: { type: "tool_uses", value: 1 },
              clear_at_least: { type: "input_tokens", value: step },
            },
          ]),
        }),
        contextSettings(mock),
        count,
        { measure: true },
      );
      const a = out.applied[0];
      cleared.push(a?.type === "clear_tool_uses_20250919" ? a.cleared_tool_uses : 0);
      if (a) expect(a.cleared_input_tokens % step).toBe(0);
    }
    // 3 clearable results (4 uses, keep 1) make one step of 2; then 2 more per 2 turns.
    expect(cleared).toEqual([2, 4, 4, 6, 6, 8, 8, 10, 10]);
  });
});
