/**
 * Context edits on the upstream backends: an OpenAI-compatible upstream receives the edited
 * prompt (Parley runs the edits), an Anthropic upstream receives the request untouched (it runs
 * them itself).
 */
import type { ServerResponse } from "node:http";
import type Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLEARED_TOOL_RESULT } from "../src/context/index.ts";
import {
  type FakeUpstream,
  json,
  type RecordedRequest,
  replyOpenAI,
  startFakeUpstream,
} from "./fakes/http-upstream.ts";
import { foldChunks, vllm } from "./fakes/openai-chunks.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";
import { toolConversation } from "./helpers/tool-conversation.ts";

const messages = toolConversation(4, 50) as Anthropic.Beta.BetaMessageParam[];
const context_management = {
  edits: [
    {
      type: "clear_tool_uses_20250919" as const,
      trigger: { type: "tool_uses" as const, value: 1 },
      keep: { type: "tool_uses" as const, value: 1 },
    },
  ],
};

describe("context edits on upstream backends", () => {
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let server: TestServer;

  beforeAll(async () => {
    openai = await startFakeUpstream((req: RecordedRequest, res: ServerResponse) =>
      req.path.endsWith("/chat/completions")
        ? replyOpenAI(req, res, vllm.text(["ok"], [40, 1]), foldChunks)
        : json(res, 404, { error: { message: "not found" } }),
    );
    anthropic = await startFakeUpstream((_req, res) =>
      json(res, 200, {
        id: "msg_up",
        type: "message",
        role: "assistant",
        model: "claude-haiku-4-5",
        content: [{ type: "text", text: "ok" }],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage: { input_tokens: 9, output_tokens: 1 },
        context_management: { applied_edits: [] },
      }),
    );
    server = await startTestServer({
      models: [
        {
          id: "oai",
          provider: "openai",
          base_url: `${openai.origin}/v1`,
          upstream_model: "qwen",
          tokenize: "estimate",
        },
        { id: "ant", provider: "anthropic", base_url: anthropic.origin, api_key: "sk-ant-upstream-0000" },
      ],
    });
  });
  afterAll(async () => {
    await server?.stop();
    await openai?.close();
    await anthropic?.close();
  });

  it("an OpenAI-compatible upstream gets the prompt with old tool results cleared", async () => {
    const reply = await server.client().beta.messages.create({
      model: "oai",
      max_tokens: 10,
      messages,
      betas: ["context-management-2025-06-27"],
      context_management,
    });
    expect(reply.context_management?.applied_edits).toEqual([
      expect.objectContaining({ type: "clear_tool_uses_20250919", cleared_tool_uses: 3 }),
    ]);
    const sent = openai.requests.find((r) => r.path.endsWith("/chat/completions"))?.body as {
      messages: { role: string; content: unknown }[];
    };
    const tools = sent.messages.filter((m) => m.role === "tool").map((m) => m.content);
    expect(tools.slice(0, 3)).toEqual([CLEARED_TOOL_RESULT, CLEARED_TOOL_RESULT, CLEARED_TOOL_RESULT]);
    expect(tools[3]).not.toBe(CLEARED_TOOL_RESULT);
  });

  it("an Anthropic upstream gets context_management and the full history untouched", async () => {
    await server.client().beta.messages.create({
      model: "ant",
      max_tokens: 10,
      messages,
      betas: ["context-management-2025-06-27"],
      context_management,
    });
    const sent = anthropic.requests.at(-1)?.body as { messages: unknown; context_management: unknown };
    expect(sent.context_management).toEqual(context_management);
    expect(sent.messages).toEqual(messages);
  });
});
