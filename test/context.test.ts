/**
 * Context management through the real server on the mock backend (its tokenizer is documented:
 * a token is a word), with the SDK's beta client and raw SSE: applied_edits on replies and on
 * message_delta, count_tokens' original_input_tokens, compaction blocks and usage.iterations.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLEARED_TOOL_RESULT } from "../src/context/index.ts";
import type { UsageRecord } from "../src/store/index.ts";
import { parseSse, startTestServer, type TestServer } from "./helpers/server.ts";
import { toolConversation } from "./helpers/tool-conversation.ts";

const BETAS = ["context-management-2025-06-27", "compact-2026-01-12"];

describe("context management on the mock backend", () => {
  let server: TestServer;
  let client: Anthropic;
  const records: UsageRecord[] = [];

  beforeAll(async () => {
    server = await startTestServer(
      {
        models: [
          { id: "mock", provider: "mock" },
          {
            id: "small",
            provider: "mock",
            context_window: 4096,
            max_output_tokens: 256,
            context_management: { trigger: "50%", clear_tool_uses_on_overflow: true },
          },
          { id: "summariser", provider: "mock", context_window: 8192, max_output_tokens: 40 },
          {
            id: "delegating",
            provider: "mock",
            context_window: 4096,
            context_management: { trigger: "50%", compaction_model: "summariser" },
          },
        ],
      },
      { recorder: { record: (r) => records.push(r) } },
    );
    client = server.client();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const messages = toolConversation(8, 300) as Anthropic.Beta.BetaMessageParam[];
  const clear = {
    edits: [
      {
        type: "clear_tool_uses_20250919" as const,
        trigger: { type: "input_tokens" as const, value: 1000 },
        keep: { type: "tool_uses" as const, value: 2 },
      },
    ],
  };

  it("clear_tool_uses: the reply reports applied_edits and input_tokens equals count_tokens", async () => {
    const original = await client.messages.countTokens({
      model: "mock",
      messages: messages as unknown as Anthropic.MessageParam[],
    });
    const count = await client.beta.messages.countTokens({
      model: "mock",
      messages,
      betas: BETAS,
      context_management: clear,
    });
    const reply = await client.beta.messages.create({
      model: "mock",
      max_tokens: 20,
      messages,
      betas: BETAS,
      context_management: clear,
    });
    const placeholder = CLEARED_TOOL_RESULT.split(" ").length;
    expect(count.context_management).toEqual({ original_input_tokens: original.input_tokens });
    expect(original.input_tokens - count.input_tokens).toBe(6 * (300 - placeholder));
    expect(reply.context_management).toEqual({
      applied_edits: [
        {
          type: "clear_tool_uses_20250919",
          cleared_input_tokens: 6 * (300 - placeholder),
          cleared_tool_uses: 6,
        },
      ],
    });
    expect(reply.usage.input_tokens).toBe(count.input_tokens);
  });

  it("streams applied_edits on message_delta, and the SDK's stream accumulates them", async () => {
    const res = await server.post(
      "/v1/messages?beta=true",
      { model: "mock", max_tokens: 20, stream: true, messages, context_management: clear },
      { "anthropic-beta": BETAS.join(",") },
    );
    expect(res.status).toBe(200);
    const events = parseSse(await res.text());
    const start = events.find((e) => e.event === "message_start")?.data as {
      message: Record<string, unknown>;
    };
    expect(start.message.context_management).toBeNull();
    const delta = events.find((e) => e.event === "message_delta")?.data;
    expect(delta?.context_management).toEqual({
      applied_edits: [expect.objectContaining({ type: "clear_tool_uses_20250919", cleared_tool_uses: 6 })],
    });
    const stream = client.beta.messages.stream({
      model: "mock",
      max_tokens: 20,
      messages,
      betas: BETAS,
      context_management: clear,
    });
    const final = await stream.finalMessage();
    expect(final.context_management?.applied_edits).toEqual(
      (delta?.context_management as { applied_edits: unknown[] } | undefined)?.applied_edits,
    );
  });

  it("a request without context_management has no context_management field", async () => {
    const reply = await server.post("/v1/messages", {
      model: "mock",
      max_tokens: 5,
      messages: [{ role: "user", content: "hi" }],
    });
    const body = (await reply.json()) as Record<string, unknown>;
    expect(body).not.toHaveProperty("context_management");
    const count = await server.post("/v1/messages/count_tokens", {
      model: "mock",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(await count.json()).toEqual({ input_tokens: 2 });
  });

  it.each([
    [
      { edits: [{ type: "compact_20260112", trigger: { type: "input_tokens", value: 1000 } }] },
      /at least 50000/,
    ],
    [{ edits: [{ type: "clear_tool_uses_20250919" }, { type: "clear_thinking_20251015" }] }, /first edit/],
    [{ edits: [{ type: "no_such_edit" }] }, /context_management/],
    [{ edits: [{ type: "clear_tool_uses_20250919", keep: { type: "tool_uses", value: -1 } }] }, /keep/],
  ])("refuses %j with a 400", async (cm, message) => {
    const res = await server.post("/v1/messages", {
      model: "mock",
      max_tokens: 5,
      messages: [{ role: "user", content: "hi" }],
      context_management: cm,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.message).toMatch(message);
  });

  it("on a small window, an overflowing prompt is cleared instead of refused when the model opts in", async () => {
    const long = toolConversation(12, 400) as Anthropic.Beta.BetaMessageParam[];
    const count = await client.beta.messages.countTokens({ model: "small", messages: long, betas: BETAS });
    expect(count.context_management?.original_input_tokens).toBeGreaterThan(4096);
    expect(count.input_tokens).toBeLessThanOrEqual(4096);
    const reply = await client.beta.messages.create({
      model: "small",
      max_tokens: 256,
      messages: long,
      betas: BETAS,
    });
    expect(reply.usage.input_tokens).toBeLessThanOrEqual(4096 - 256);
    const applied = reply.context_management?.applied_edits[0];
    expect(applied).toMatchObject({ type: "clear_tool_uses_20250919" });
    expect(applied && "cleared_tool_uses" in applied && applied.cleared_tool_uses).toBeGreaterThan(0);
  });

  describe("compaction", () => {
    const compact = {
      edits: [
        { type: "compact_20260112" as const, trigger: { type: "input_tokens" as const, value: 150_000 } },
      ],
    };
    const long = toolConversation(6, 400) as Anthropic.Beta.BetaMessageParam[];

    it("returns the compaction block first, then answers on the compacted context, with usage.iterations", async () => {
      const reply = await client.beta.messages.create({
        model: "small",
        max_tokens: 50,
        messages: long,
        betas: BETAS,
        context_management: compact,
      });
      expect(reply.content[0]).toMatchObject({ type: "compaction", encrypted_content: null });
      const summary = reply.content[0].type === "compaction" ? reply.content[0].content : null;
      expect(typeof summary).toBe("string");
      expect(reply.content[1]?.type).toBe("text");
      expect(reply.stop_reason).not.toBe("compaction");
      const iterations = reply.usage.iterations ?? [];
      expect(iterations.map((i) => i.type)).toEqual([
        ...Array(iterations.length - 1).fill("compaction"),
        "message",
      ]);
      expect(iterations.length).toBeGreaterThanOrEqual(2);
      const last = iterations.at(-1);
      expect(reply.usage.input_tokens).toBe(last?.input_tokens);
      expect(reply.usage.output_tokens).toBe(last?.output_tokens);
      expect(reply.usage.input_tokens).toBeLessThan(2048);

      // The block goes back in the next turn and replaces what came before it.
      const followUp: Anthropic.Beta.BetaMessageParam[] = [
        ...long,
        { role: "assistant", content: reply.content as Anthropic.Beta.BetaContentBlockParam[] },
        { role: "user", content: "And now?" },
      ];
      const count = await client.beta.messages.countTokens({
        model: "small",
        messages: followUp,
        betas: BETAS,
        context_management: compact,
      });
      expect(count.input_tokens).toBeLessThan(reply.usage.input_tokens + 100);
      expect(count.context_management?.original_input_tokens).toBeGreaterThan(6 * 400);
      const next = await client.beta.messages.create({
        model: "small",
        max_tokens: 20,
        messages: followUp,
        betas: BETAS,
        context_management: compact,
      });
      expect(next.content[0]?.type).toBe("text");
      expect(next.usage.input_tokens).toBe(count.input_tokens);
      expect(next.usage.iterations ?? null).toBeNull();
    });

    it("pause_after_compaction stops after the block with stop_reason compaction; streams compaction_delta in order", async () => {
      const res = await server.post(
        "/v1/messages?beta=true",
        {
          model: "small",
          max_tokens: 50,
          stream: true,
          messages: long,
          context_management: { edits: [{ ...compact.edits[0], pause_after_compaction: true }] },
        },
        { "anthropic-beta": BETAS.join(",") },
      );
      const events = parseSse(await res.text()).filter((e) => e.event !== "ping");
      expect(events.map((e) => e.event)).toEqual([
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
      ]);
      expect(events[1].data).toMatchObject({
        index: 0,
        content_block: { type: "compaction", content: null },
      });
      expect(events[2].data).toMatchObject({
        index: 0,
        delta: { type: "compaction_delta", encrypted_content: null },
      });
      expect(typeof (events[2].data.delta as { content: unknown }).content).toBe("string");
      expect(events[4].data).toMatchObject({ delta: { stop_reason: "compaction" } });
      const usage = events[4].data.usage as { iterations: { type: string }[] };
      expect(usage.iterations.every((i) => i.type === "compaction")).toBe(true);

      const stream = client.beta.messages.stream({
        model: "small",
        max_tokens: 50,
        messages: long,
        betas: BETAS,
        context_management: compact,
      });
      const final = await stream.finalMessage();
      expect(final.content.map((b) => b.type)).toEqual(["compaction", "text"]);
      expect(final.usage.iterations?.at(-1)?.type).toBe("message");
    });

    it("a compaction_model writes the summary (its output cap bounds it)", async () => {
      const reply = await client.beta.messages.create({
        model: "delegating",
        max_tokens: 20,
        messages: long,
        betas: BETAS,
        context_management: compact,
      });
      const iterations = reply.usage.iterations ?? [];
      expect(iterations[0]).toMatchObject({ type: "compaction", output_tokens: 40 });
      expect(iterations.at(-1)).toMatchObject({ type: "message", model: "delegating" });
    });

    it("the usage record bills the compaction passes the top-level usage leaves out", async () => {
      const { data: reply, request_id } = await client.beta.messages
        .create({ model: "small", max_tokens: 50, messages: long, betas: BETAS, context_management: compact })
        .withResponse();
      const iterations = reply.usage.iterations ?? [];
      const sum = (k: "input_tokens" | "output_tokens") => iterations.reduce((n, i) => n + i[k], 0);
      expect(iterations.length).toBeGreaterThanOrEqual(2);
      for (let i = 0; i < 100 && !records.some((r) => r.request_id === request_id); i++)
        await new Promise((r) => setTimeout(r, 10));
      const row = records.find((r) => r.request_id === request_id);
      expect(row).toMatchObject({ input_tokens: sum("input_tokens"), output_tokens: sum("output_tokens") });
      expect(row?.input_tokens).toBeGreaterThan(reply.usage.input_tokens);
    });
  });
});
