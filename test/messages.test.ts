import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSse, startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

let server: TestServer;
let client: Anthropic;

const weatherTool = {
  name: "get_weather",
  description: "Weather for a city",
  input_schema: {
    type: "object" as const,
    properties: { city: { type: "string", minLength: 2 }, days: { type: "integer", minimum: 1, maximum: 7 } },
    required: ["city", "days"],
    additionalProperties: false,
  },
};

beforeAll(async () => {
  server = await startTestServer({
    models: [
      { id: "mock", provider: "mock", aliases: ["claude-sonnet-4-5"] },
      { id: "mock-2", provider: "mock", created_at: "2024-01-01T00:00:00Z" },
      { id: "mock-3", provider: "mock", created_at: "2023-01-01T00:00:00Z" },
    ],
  });
  client = server.client();
});
afterAll(() => server.stop());

describe("POST /v1/messages with the SDK", () => {
  it("creates a message that echoes the last user turn", async () => {
    const msg = await client.messages.create({
      model: "mock",
      max_tokens: 100,
      system: "Be brief.",
      messages: [{ role: "user", content: "Hello there, world" }],
    });
    expect(msg.id).toMatch(/^msg_01[0-9A-Za-z]{22}$/);
    expect(msg).toMatchObject({
      type: "message",
      role: "assistant",
      model: "mock",
      content: [{ type: "text", text: "Hello there, world", citations: null }],
      stop_reason: "end_turn",
      stop_sequence: null,
      container: null,
      stop_details: null,
    });
    expect(msg.usage).toMatchObject({
      input_tokens: 6,
      output_tokens: 3,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      service_tier: "standard",
    });
  });

  it("answers an alias with the model name the client sent", async () => {
    const msg = await client.messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 10,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(msg.model).toBe("claude-sonnet-4-5");
  });

  it("truncates at max_tokens", async () => {
    const msg = await client.messages.create({
      model: "mock",
      max_tokens: 2,
      messages: [{ role: "user", content: "one two three four" }],
    });
    expect(msg.content).toEqual([{ type: "text", text: "one two ", citations: null }]);
    expect(msg.stop_reason).toBe("max_tokens");
    expect(msg.usage.output_tokens).toBe(2);
  });

  it("stops before a stop sequence and names it", async () => {
    const msg = await client.messages.create({
      model: "mock",
      max_tokens: 100,
      stop_sequences: ["NEVER", "three"],
      messages: [{ role: "user", content: "one two three four" }],
    });
    expect(msg.content).toEqual([{ type: "text", text: "one two ", citations: null }]);
    expect(msg.stop_reason).toBe("stop_sequence");
    expect(msg.stop_sequence).toBe("three");
  });

  it("streams several deltas and finalMessage equals the non-streaming reply", async () => {
    const stream = client.messages.stream({
      model: "mock",
      max_tokens: 100,
      messages: [{ role: "user", content: "alpha beta gamma delta" }],
    });
    const deltas: string[] = [];
    stream.on("text", (t) => deltas.push(t));
    const final = await stream.finalMessage();
    expect(deltas).toEqual(["alpha ", "beta ", "gamma ", "delta"]);
    expect(final.content).toEqual([{ type: "text", text: "alpha beta gamma delta", citations: null }]);
    expect(final.stop_reason).toBe("end_turn");
    expect(final.usage.output_tokens).toBe(4);
  });

  it("forces a tool call whose input is valid against the schema", async () => {
    const msg = await client.messages.create({
      model: "mock",
      max_tokens: 100,
      tools: [weatherTool],
      tool_choice: { type: "tool", name: "get_weather" },
      messages: [{ role: "user", content: "Paris" }],
    });
    expect(msg.stop_reason).toBe("tool_use");
    expect(msg.content).toHaveLength(1);
    const block = msg.content[0];
    expect(block.type).toBe("tool_use");
    if (block.type !== "tool_use") return;
    expect(block.id).toMatch(/^toolu_01/);
    expect(block.name).toBe("get_weather");
    expect(block.input).toEqual({ city: "Paris", days: 1 });
  });

  it("runs a two-step tool loop scripted from the user text", async () => {
    const first = await client.messages.create({
      model: "mock",
      max_tokens: 100,
      tools: [weatherTool],
      messages: [{ role: "user", content: 'Checking. [[tool:get_weather {"city":"Oslo","days":3}]]' }],
    });
    expect(first.stop_reason).toBe("tool_use");
    expect(first.content.map((b) => b.type)).toEqual(["text", "tool_use"]);
    expect(first.content[0]).toMatchObject({ type: "text", text: "Checking." });
    const call = first.content[1];
    if (call.type !== "tool_use") throw new Error("expected tool_use");
    expect(call.input).toEqual({ city: "Oslo", days: 3 });

    const second = await client.messages.create({
      model: "mock",
      max_tokens: 100,
      tools: [weatherTool],
      messages: [
        { role: "user", content: 'Checking. [[tool:get_weather {"city":"Oslo","days":3}]]' },
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "Sunny, 21 C" }] },
      ],
    });
    expect(second.stop_reason).toBe("end_turn");
    expect(second.content).toEqual([{ type: "text", text: "Sunny, 21 C", citations: null }]);
  });

  it("streams a tool call as input_json_delta and folds it in finalMessage", async () => {
    const stream = client.messages.stream({
      model: "mock",
      max_tokens: 100,
      tools: [weatherTool],
      tool_choice: { type: "any" },
      messages: [{ role: "user", content: '[[tool:get_weather {"city":"Rome","days":2}]]' }],
    });
    const partials: string[] = [];
    stream.on("inputJson", (partial) => partials.push(partial));
    const final = await stream.finalMessage();
    expect(partials.length).toBeGreaterThan(1);
    expect(final.content).toMatchObject([
      { type: "tool_use", name: "get_weather", input: { city: "Rome", days: 2 } },
    ]);
    expect(final.stop_reason).toBe("tool_use");
  });

  it("makes parallel tool calls unless disable_parallel_tool_use", async () => {
    const content = '[[tool:get_weather {"city":"A1","days":1}]] [[tool:get_weather {"city":"B2","days":2}]]';
    const both = await client.messages.create({
      model: "mock",
      max_tokens: 100,
      tools: [weatherTool],
      messages: [{ role: "user", content }],
    });
    expect(both.content.filter((b) => b.type === "tool_use")).toHaveLength(2);
    const one = await client.messages.create({
      model: "mock",
      max_tokens: 100,
      tools: [weatherTool],
      tool_choice: { type: "auto", disable_parallel_tool_use: true },
      messages: [{ role: "user", content }],
    });
    expect(one.content.filter((b) => b.type === "tool_use")).toHaveLength(1);
  });

  it("returns structured output that parses against the schema", async () => {
    const msg = await client.messages.create({
      model: "mock",
      max_tokens: 200,
      output_config: {
        format: {
          type: "json_schema",
          schema: {
            type: "object",
            properties: {
              name: { type: "string" },
              tags: { type: "array", items: { type: "string" }, minItems: 2 },
            },
            required: ["name", "tags"],
            additionalProperties: false,
          },
        },
      },
      messages: [{ role: "user", content: "Ada" }],
    });
    const block = msg.content[0];
    if (block.type !== "text") throw new Error("expected text");
    expect(JSON.parse(block.text)).toEqual({ name: "Ada", tags: ["Ada", "Ada"] });
  });

  it("returns a signed thinking block before the text when thinking is enabled", async () => {
    const msg = await client.messages.create({
      model: "mock",
      max_tokens: 2000,
      thinking: { type: "enabled", budget_tokens: 1024 },
      messages: [{ role: "user", content: "think about it" }],
    });
    expect(msg.content.map((b) => b.type)).toEqual(["thinking", "text"]);
    const thinking = msg.content[0];
    if (thinking.type !== "thinking") throw new Error("expected thinking");
    expect(thinking.signature.length).toBeGreaterThan(20);
  });

  it("verifies returned thinking signatures: as sent is accepted, tampered is a 400", async () => {
    const first = await client.messages.create({
      model: "mock",
      max_tokens: 2000,
      thinking: { type: "enabled", budget_tokens: 1024 },
      messages: [{ role: "user", content: "think" }],
    });
    const history = (content: Anthropic.ContentBlockParam[]) => [
      { role: "user" as const, content: "think" },
      { role: "assistant" as const, content },
      { role: "user" as const, content: "again" },
    ];
    const again = await client.messages.create({
      model: "mock",
      max_tokens: 2000,
      thinking: { type: "enabled", budget_tokens: 1024 },
      messages: history(first.content as Anthropic.ContentBlockParam[]),
    });
    expect(again.stop_reason).toBe("end_turn");
    const [thinking, text] = first.content as [Anthropic.ThinkingBlock, Anthropic.TextBlock];
    const tampered = { ...thinking, thinking: `${thinking.thinking} (edited)` };
    const err = await client.messages
      .create({ model: "mock", max_tokens: 10, messages: history([tampered, text]) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as Error).message).toMatch(
      /messages\.1\.content\.0: Invalid `signature` in `thinking` block/,
    );
  });

  it("accepts Claude Code's mid-conversation system message, also as the last message", async () => {
    const res = await server.post("/v1/messages?beta=true", {
      model: "mock",
      max_tokens: 64000,
      thinking: { type: "adaptive" },
      context_management: { edits: [{ type: "clear_thinking_20251015", keep: "all" }] },
      output_config: { effort: "high" },
      metadata: { user_id: '{"device_id":"x","account_uuid":"","session_id":"s"}' },
      messages: [
        { role: "user", content: [{ type: "text", text: "say hi", cache_control: { type: "ephemeral" } }] },
        { role: "system", content: "Agents available: none" },
      ],
      some_future_field: { anything: true },
    });
    expect(res.status).toBe(200);
    const msg = (await res.json()) as Anthropic.Message;
    expect(msg.content).toEqual([{ type: "text", text: "say hi", citations: null }]);
    expect(msg.usage.cache_creation_input_tokens).toBe(msg.usage.input_tokens);
  });

  it("counts tokens exactly as the reply's usage.input_tokens", async () => {
    const params = {
      model: "mock",
      system: "You are terse.",
      tools: [weatherTool],
      messages: [{ role: "user" as const, content: "How many tokens is this prompt?" }],
    };
    const counted = await client.messages.countTokens(params);
    const msg = await client.messages.create({ ...params, max_tokens: 5 });
    expect(counted.input_tokens).toBe(msg.usage.input_tokens);
    expect(counted.input_tokens).toBeGreaterThan(10);
  });
});

describe("GET /v1/models", () => {
  it("auto-pages newest first with the SDK", async () => {
    const ids: string[] = [];
    for await (const m of client.models.list({ limit: 1 })) ids.push(m.id);
    expect(ids).toEqual(["mock", "mock-2", "mock-3"]);
  });

  it("returns data[] and models[] with cursors", async () => {
    const res = await fetch(`${server.url}/v1/models?limit=2`, { headers: { "x-api-key": TEST_KEY } });
    const page = (await res.json()) as { data: Anthropic.ModelInfo[]; models: unknown[] };
    expect(page).toMatchObject({ has_more: true, first_id: "mock", last_id: "mock-2" });
    expect(page.data[0]).toMatchObject({ type: "model", id: "mock", display_name: "mock" });
    expect(page.models).toEqual([
      { name: "mock", type: "model", context_window: null },
      { name: "mock-2", type: "model", context_window: null },
    ]);
    const back = await (
      await fetch(`${server.url}/v1/models?before_id=mock-3&limit=1`, { headers: { "x-api-key": TEST_KEY } })
    ).json();
    expect(back).toMatchObject({ first_id: "mock-2", last_id: "mock-2", has_more: true });
  });

  it("retrieves a model by id or alias, 404 otherwise", async () => {
    expect((await client.models.retrieve("claude-sonnet-4-5")).id).toBe("mock");
    await expect(client.models.retrieve("nope")).rejects.toBeInstanceOf(Anthropic.NotFoundError);
  });
});

describe("SSE framing over raw HTTP", () => {
  it("sends the exact event order with named events", async () => {
    const res = await server.post("/v1/messages", {
      model: "mock",
      max_tokens: 50,
      stream: true,
      messages: [{ role: "user", content: "a b" }],
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("request-id")).toMatch(/^req_/);
    const events = parseSse(await res.text()).map((e) => e.event);
    expect(events).toEqual([
      "message_start",
      "ping",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
  });

  it("ends with an error event when the model fails mid-stream", async () => {
    const res = await server.post("/v1/messages", {
      model: "mock",
      max_tokens: 50,
      stream: true,
      messages: [{ role: "user", content: "partial [[stream-error]]" }],
    });
    const events = parseSse(await res.text());
    expect(events.at(-1)).toEqual({
      event: "error",
      data: {
        type: "error",
        error: { type: "overloaded_error", message: "Overloaded (requested by [[stream-error]])" },
      },
    });
  });

  it("sends the 2026-10-21 reply shape to SDK 1.x and the classic one to 2023-06-01", async () => {
    const body = { model: "mock", max_tokens: 5, messages: [{ role: "user", content: "x" }] };
    const old = (await (await server.post("/v1/messages", body)).json()) as Record<string, unknown>;
    expect(old).not.toHaveProperty("container");
    expect(old.usage).not.toHaveProperty("speed");
    const res = await fetch(`${server.url}/v1/messages`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${TEST_KEY}`,
        "anthropic-version": "2026-10-21",
        "content-type": "application/json",
      },
      body: JSON.stringify(body),
    });
    const fresh = await res.json();
    expect(fresh).toMatchObject({
      container: null,
      diagnostics: null,
      stop_details: null,
      usage: { speed: "standard" },
    });
  });
});
