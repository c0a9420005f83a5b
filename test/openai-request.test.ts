import { describe, expect, it } from "vitest";
import { type MessageCreateParams, toMessageRequest } from "../src/protocol/index.ts";
import { toOpenAIRequest } from "../src/providers/openai/index.ts";

const ctx = { apiVersion: "2023-06-01" as const, rawApiVersion: "2023-06-01", betas: [] };
const opts = { model: "qwen2.5-7b", maxStopSequences: 4, topK: true };
const translate = (params: Partial<MessageCreateParams>, o = opts) =>
  toOpenAIRequest(
    toMessageRequest(
      { model: "m", max_tokens: 100, messages: [{ role: "user", content: "Hi" }], ...params },
      ctx,
    ),
    o,
  );

const weather = {
  name: "get_weather",
  description: "Weather for a city",
  input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] },
};

describe("toOpenAIRequest", () => {
  const cases: { name: string; params: Partial<MessageCreateParams>; expected: Record<string, unknown> }[] = [
    {
      name: "plain text turn, upstream model name, max_tokens",
      params: {},
      expected: {
        model: "qwen2.5-7b",
        max_tokens: 100,
        stream: false,
        messages: [{ role: "user", content: "Hi" }],
      },
    },
    {
      name: "system blocks joined into one system message",
      params: {
        system: [
          { type: "text", text: "Be brief." },
          { type: "text", text: "Be kind." },
        ],
      },
      expected: {
        messages: [
          { role: "system", content: "Be brief.\n\nBe kind." },
          { role: "user", content: "Hi" },
        ],
      },
    },
    {
      name: "streaming asks for the usage chunk",
      params: { stream: true },
      expected: { stream: true, stream_options: { include_usage: true } },
    },
    {
      name: "temperature, top_p, top_k and metadata.user_id → user",
      params: { temperature: 0.2, top_p: 0.9, top_k: 40, metadata: { user_id: "u-1" } },
      expected: { temperature: 0.2, top_p: 0.9, top_k: 40, user: "u-1" },
    },
    {
      name: "images as data URLs and URLs",
      params: {
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "What is this?" },
              { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
              { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
            ],
          },
        ],
      },
      expected: {
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "What is this?" },
              { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
              { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
            ],
          },
        ],
      },
    },
    {
      name: "tools, tool_choice any → required, disable_parallel_tool_use → parallel_tool_calls false",
      params: { tools: [weather], tool_choice: { type: "any", disable_parallel_tool_use: true } },
      expected: {
        tools: [
          {
            type: "function",
            function: {
              name: "get_weather",
              description: "Weather for a city",
              parameters: weather.input_schema,
            },
          },
        ],
        tool_choice: "required",
        parallel_tool_calls: false,
      },
    },
    {
      name: "tool_choice tool → named function",
      params: { tools: [weather], tool_choice: { type: "tool", name: "get_weather" } },
      expected: { tool_choice: { type: "function", function: { name: "get_weather" } } },
    },
    {
      name: "tool_choice none → none",
      params: { tools: [weather], tool_choice: { type: "none" } },
      expected: { tool_choice: "none" },
    },
    {
      name: "assistant tool_use → tool_calls; tool_result → tool messages before the user's text; is_error kept",
      params: {
        tools: [weather],
        messages: [
          { role: "user", content: "Weather in Paris and Oslo?" },
          {
            role: "assistant",
            content: [
              { type: "text", text: "Checking." },
              { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } },
              { type: "tool_use", id: "call_2", name: "get_weather", input: { city: "Oslo" } },
            ],
          },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "call_1", content: "18°C" },
              {
                type: "tool_result",
                tool_use_id: "call_2",
                content: [{ type: "text", text: "no data" }],
                is_error: true,
              },
              { type: "text", text: "Thanks" },
            ],
          },
        ],
      },
      expected: {
        messages: [
          { role: "user", content: "Weather in Paris and Oslo?" },
          {
            role: "assistant",
            content: "Checking.",
            tool_calls: [
              {
                id: "call_1",
                type: "function",
                function: { name: "get_weather", arguments: '{"city":"Paris"}' },
              },
              {
                id: "call_2",
                type: "function",
                function: { name: "get_weather", arguments: '{"city":"Oslo"}' },
              },
            ],
          },
          { role: "tool", tool_call_id: "call_1", content: "18°C" },
          { role: "tool", tool_call_id: "call_2", content: "Error: no data" },
          { role: "user", content: "Thanks" },
        ],
      },
    },
    {
      name: "assistant with only tool calls has null content; thinking dropped",
      params: {
        messages: [
          { role: "user", content: "Go" },
          {
            role: "assistant",
            content: [
              { type: "thinking", thinking: "hmm", signature: "sig" },
              { type: "tool_use", id: "t1", name: "get_weather", input: {} },
            ],
          },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }] },
        ],
        tools: [weather],
      },
      expected: {
        messages: [
          { role: "user", content: "Go" },
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "t1", type: "function", function: { name: "get_weather", arguments: "{}" } }],
          },
          { role: "tool", tool_call_id: "t1", content: "ok" },
        ],
      },
    },
    {
      name: "a mid-conversation system turn stays a system message; prefill stays the last assistant message",
      params: {
        messages: [
          { role: "user", content: "Hi" },
          { role: "system", content: "Answer in French." },
          { role: "assistant", content: "Bonjour" },
        ],
      },
      expected: {
        messages: [
          { role: "user", content: "Hi" },
          { role: "system", content: "Answer in French." },
          { role: "assistant", content: "Bonjour" },
        ],
      },
    },
    {
      name: "text documents become text",
      params: {
        messages: [
          {
            role: "user",
            content: [
              {
                type: "document",
                source: { type: "text", media_type: "text/plain", data: "Body" },
                title: "Doc",
              },
              { type: "text", text: "Summarise" },
            ],
          },
        ],
      },
      expected: { messages: [{ role: "user", content: "Doc\n\nBody\n\nSummarise" }] },
    },
    {
      name: "output_config.format → response_format json_schema",
      params: { output_config: { format: { type: "json_schema", schema: { type: "object" } } } },
      expected: {
        response_format: {
          type: "json_schema",
          json_schema: { name: "output", schema: { type: "object" }, strict: true },
        },
      },
    },
  ];

  it.each(cases)("$name", ({ params, expected }) => {
    expect(translate(params)).toMatchObject(expected);
  });

  it("sends at most max_stop_sequences stop sequences upstream (the rest are matched in Parley)", () => {
    const stop_sequences = ["a", "b", "c", "d", "e", "f"];
    expect(translate({ stop_sequences }).stop).toEqual(["a", "b", "c", "d"]);
    expect(translate({ stop_sequences }, { ...opts, maxStopSequences: 0 }).stop).toBeUndefined();
  });

  it("leaves out top_k for upstreams that reject it, and tools when there are none", () => {
    const r = translate({ top_k: 5 }, { ...opts, topK: false });
    expect(r).not.toHaveProperty("top_k");
    expect(r).not.toHaveProperty("tools");
    expect(r).not.toHaveProperty("tool_choice");
  });

  it("refuses what Chat Completions cannot carry with a 422", () => {
    expect(() =>
      translate({
        messages: [
          {
            role: "user",
            content: [
              { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBER" } },
            ],
          },
        ],
      }),
    ).toThrow(expect.objectContaining({ status: 422, message: expect.stringMatching(/base64 documents/) }));
    expect(() => translate({ tools: [{ type: "bash_20250124", name: "bash" }] })).toThrow(
      expect.objectContaining({ status: 422 }),
    );
  });
});
