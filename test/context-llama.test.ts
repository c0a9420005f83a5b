/**
 * Long sessions on a small window, through the real server on the llama fixture (random
 * weights: the text is gibberish, so the tests check counts, fits, blocks and cache reuse).
 * A 4,096-token window and a synthetic 20k+ token tool conversation: refused as is, served
 * with clear_tool_uses or compaction; and a session's main conversation keeps its cache slot
 * while side requests come and go.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConfigFile } from "../src/config/index.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";
import { filler, toolConversation } from "./helpers/tool-conversation.ts";

const MODELS_DIR = resolve(process.env.PARLEY_MODELS_DIR ?? join(import.meta.dirname, "../../shared/models"));
const TINY = join(MODELS_DIR, "llama-2-tiny-random.gguf");
const present = existsSync(TINY);
if (!present) console.warn(`context llama tests skipped: ${TINY} not found (set PARLEY_MODELS_DIR)`);

const BETAS = ["context-management-2025-06-27", "compact-2026-01-12"];
const small = { provider: "llama" as const, path: TINY, context_window: 4096, max_output_tokens: 64 };
const models: ConfigFile["models"] = [
  { id: "tiny-4k", ...small, parallel: 1, context_management: { trigger: "50%" } },
  { id: "tiny-pinned", ...small, parallel: 2 },
  { id: "tiny-unpinned", ...small, parallel: 2 },
];

type PromptUsage = {
  input_tokens: number;
  cache_read_input_tokens: number | null;
  cache_creation_input_tokens: number | null;
};
const promptTokens = (u: PromptUsage) =>
  u.input_tokens + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0);

describe.skipIf(!present)("long sessions on a 4k llama window", () => {
  let server: TestServer;
  let client: Anthropic;
  const long = toolConversation(24, 400) as Anthropic.Beta.BetaMessageParam[];

  beforeAll(async () => {
    server = await startTestServer({ models });
    client = server.client();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("a 20k+ token tool conversation is a 400 without edits", async () => {
    const count = await client.beta.messages.countTokens({ model: "tiny-4k", messages: long, betas: BETAS });
    expect(count.input_tokens).toBeGreaterThan(20_000);
    const res = await server.post("/v1/messages", { model: "tiny-4k", max_tokens: 16, messages: long });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /context limit|prompt is too long/,
    );
  });

  it("with clear_tool_uses it is a 200 whose prompt equals count_tokens and fits", async () => {
    const context_management = {
      edits: [
        {
          type: "clear_tool_uses_20250919" as const,
          trigger: { type: "input_tokens" as const, value: 3000 },
          keep: { type: "tool_uses" as const, value: 1 },
        },
      ],
    };
    const count = await client.beta.messages.countTokens({
      model: "tiny-4k",
      messages: long,
      betas: BETAS,
      context_management,
    });
    const reply = await client.beta.messages.create({
      model: "tiny-4k",
      max_tokens: 16,
      messages: long,
      betas: BETAS,
      context_management,
    });
    expect(promptTokens(reply.usage)).toBe(count.input_tokens);
    expect(count.input_tokens + 16).toBeLessThanOrEqual(4096);
    expect(count.context_management?.original_input_tokens).toBeGreaterThan(20_000);
    const [applied] = reply.context_management?.applied_edits ?? [];
    expect(applied).toEqual({
      type: "clear_tool_uses_20250919",
      cleared_tool_uses: 23,
      cleared_input_tokens: (count.context_management?.original_input_tokens ?? 0) - count.input_tokens,
    });
  });

  it("compaction writes a compaction block on the 4k window, and a follow-up carrying it is accepted", {
    timeout: 120_000,
  }, async () => {
    const context_management = { edits: [{ type: "compact_20260112" as const }] };
    const medium = toolConversation(8, 400) as Anthropic.Beta.BetaMessageParam[];
    const reply = await client.beta.messages.create({
      model: "tiny-4k",
      max_tokens: 16,
      messages: medium,
      betas: BETAS,
      context_management,
    });
    expect(reply.content[0]?.type).toBe("compaction");
    const iterations = reply.usage.iterations ?? [];
    // ~10k tokens do not fit a 4k window: the transcript is summarised in segments.
    expect(iterations.filter((i) => i.type === "compaction").length).toBeGreaterThan(1);
    expect(iterations.at(-1)?.type).toBe("message");
    expect(promptTokens(reply.usage)).toBeLessThan(4096);
    const followUp: Anthropic.Beta.BetaMessageParam[] = [
      ...medium,
      { role: "assistant", content: reply.content as Anthropic.Beta.BetaContentBlockParam[] },
      { role: "user", content: "Go on." },
    ];
    const next = await client.beta.messages.create({
      model: "tiny-4k",
      max_tokens: 16,
      messages: followUp,
      betas: BETAS,
      context_management,
    });
    expect(next.type).toBe("message");
    expect(promptTokens(next.usage)).toBeLessThan(4096);
  });

  it("with clear_at_least the next turn after a clear reads the previous prompt from cache", {
    timeout: 60_000,
  }, async () => {
    const turn = async (uses: number, clearAtLeast?: number) => {
      const reply = await client.beta.messages.create(
        {
          model: "tiny-pinned",
          max_tokens: 4,
          messages: toolConversation(uses, 150) as Anthropic.Beta.BetaMessageParam[],
          betas: BETAS,
          context_management: {
            edits: [
              {
                type: "clear_tool_uses_20250919",
                trigger: { type: "input_tokens", value: 1500 },
                keep: { type: "tool_uses", value: 1 },
                ...(clearAtLeast
                  ? { clear_at_least: { type: "input_tokens" as const, value: clearAtLeast } }
                  : {}),
              },
            ],
          },
        },
        { headers: { "x-claude-code-session-id": `edits-${clearAtLeast ?? 0}` } },
      );
      const applied = reply.context_management?.applied_edits[0];
      const cleared = applied && "cleared_tool_uses" in applied ? applied.cleared_tool_uses : 0;
      return { prompt: promptTokens(reply.usage), read: reply.usage.cache_read_input_tokens ?? 0, cleared };
    };
    // Steps of two results: of two consecutive turns, one pair clears the same set.
    const stepped = [await turn(10, 1400), await turn(11, 1400), await turn(12, 1400)];
    const same = [1, 2].find((i) => stepped[i].cleared === stepped[i - 1].cleared);
    expect(same).toBeDefined();
    const [before, after] = [stepped[(same ?? 1) - 1], stepped[same ?? 1]];
    expect(after.read).toBeGreaterThanOrEqual(before.prompt - 2);
    // Without it one more result is cleared every turn, and the cache breaks there.
    const a = await turn(10);
    const b = await turn(11);
    expect(b.cleared).toBe(a.cleared + 1);
    expect(b.read).toBeLessThan(a.prompt * 0.9);
  });

  it("a session's main conversation keeps its slot while side requests run in between", async () => {
    const system = `You are a coding agent. ${filler(250, 1)}`;
    const main = [{ role: "user" as const, content: `Task: ${filler(150, 2)}` }];
    const side = (model: string, n: number) => ({
      model,
      max_tokens: 4,
      system: `Write a title for the conversation, variant ${n}. ${filler(30, 100 + n)}`,
      messages: [{ role: "user" as const, content: "Title please" }],
    });
    // Each run on its own model, so each starts from empty slots.
    const run = async (model: string, session: string | undefined) => {
      const headers = session ? { "x-claude-code-session-id": session } : undefined;
      const first = await client.messages.create(
        { model, max_tokens: 8, system, messages: main },
        { headers },
      );
      await client.messages.create(side(model, 1), { headers });
      await client.messages.create(side(model, 2), { headers });
      const again = await client.messages.create(
        {
          model,
          max_tokens: 8,
          system,
          messages: [
            ...main,
            { role: "assistant", content: first.content },
            { role: "user", content: "Continue." },
          ],
        },
        { headers },
      );
      return (again.usage.cache_read_input_tokens ?? 0) / promptTokens(again.usage);
    };
    const pinned = await run("tiny-pinned", "session-a");
    const unpinned = await run("tiny-unpinned", undefined);
    expect(pinned).toBeGreaterThanOrEqual(0.9);
    expect(unpinned).toBeLessThan(0.5);
  });
});
