import { describe, expect, it } from "vitest";
import { type StreamEvent, StreamFolder } from "../src/protocol/index.ts";
import {
  type ChunkTranslatorOptions,
  fromOpenAIResponse,
  type OpenAIChunk,
  OpenAIChunkTranslator,
  promptUsageFrom,
  stopReasonFor,
  toAnthropicToolId,
  toUpstreamToolId,
} from "../src/providers/openai/index.ts";
import { llamaServer, ollama, vllm } from "./fakes/openai-chunks.ts";

const options: ChunkTranslatorOptions = { model: "claude-x", apiVersion: "2023-06-01", stopSequences: [] };

function run(chunks: unknown[], opts: Partial<ChunkTranslatorOptions> = {}, sawDone = true) {
  const t = new OpenAIChunkTranslator({ ...options, ...opts });
  const events: StreamEvent[] = [];
  for (const c of chunks) {
    events.push(...t.push(c as OpenAIChunk));
    if (t.done) break;
  }
  events.push(...t.end(sawDone));
  // The provider's path, the chunks as the upstream's text: the same events, ids aside.
  expect(withoutIds(fromText(chunks, opts, sawDone))).toEqual(withoutIds(events));
  const folder = new StreamFolder();
  for (const e of events) folder.add(e);
  return { events, message: folder.result(), translator: t };
}

/** The chunks through `pushData`, as JSON text (plain text chunks are then read as their delta alone). */
function fromText(chunks: unknown[], opts: Partial<ChunkTranslatorOptions>, sawDone: boolean): StreamEvent[] {
  const t = new OpenAIChunkTranslator({ ...options, ...opts });
  const events: StreamEvent[] = [];
  for (const c of chunks) {
    events.push(...t.pushData(JSON.stringify(c)));
    if (t.done) break;
  }
  events.push(...t.end(sawDone));
  return events;
}

const withoutIds = (events: StreamEvent[]) =>
  JSON.parse(JSON.stringify(events).replace(/"(msg|toolu)_[A-Za-z0-9]+"/g, '"$1_"'));

/** Events without the message_start snapshot, as compact tuples. */
const shape = (events: StreamEvent[]) =>
  events.slice(1).map((e) => {
    switch (e.type) {
      case "content_block_start":
        return ["start", e.index, e.content_block.type];
      case "content_block_delta":
        return ["delta", e.index, Object.values(e.delta)[1]];
      case "content_block_stop":
        return ["stop", e.index];
      case "message_delta":
        return ["message_delta", e.delta.stop_reason, e.delta.stop_sequence, e.usage];
      default:
        return [e.type];
    }
  });

describe("finish_reason and usage", () => {
  it.each([
    ["stop", "end_turn"],
    ["length", "max_tokens"],
    ["tool_calls", "tool_use"],
    ["function_call", "tool_use"],
    ["content_filter", "refusal"],
    [null, "end_turn"],
    ["eos", "end_turn"],
  ])("finish_reason %s → %s", (finish, reason) => {
    expect(stopReasonFor(finish)).toBe(reason);
  });

  it.each([
    [
      { prompt_tokens: 100, completion_tokens: 5 },
      { input_tokens: 100, cache_read_input_tokens: 0 },
    ],
    [
      { prompt_tokens: 100, prompt_tokens_details: { cached_tokens: 64 } },
      { input_tokens: 36, cache_read_input_tokens: 64 },
    ],
    [
      { prompt_tokens: 10, prompt_tokens_details: null },
      { input_tokens: 10, cache_read_input_tokens: 0 },
    ],
  ])("usage %j → %j (cached tokens are not input tokens)", (usage, expected) => {
    expect(promptUsageFrom(usage)).toEqual(expected);
  });
});

describe("vLLM streams", () => {
  it("streams text deltas as they arrive and reports cached tokens from the trailing usage chunk", () => {
    const { events, message } = run(vllm.text(["Hel", "lo", " world"], [120, 3, 96]));
    expect(events[0]).toMatchObject({
      type: "message_start",
      message: { model: "claude-x", content: [], stop_reason: null },
    });
    expect(shape(events)).toEqual([
      ["start", 0, "text"],
      ["delta", 0, "Hel"],
      ["delta", 0, "lo"],
      ["delta", 0, " world"],
      ["stop", 0],
      [
        "message_delta",
        "end_turn",
        null,
        { output_tokens: 3, input_tokens: 24, cache_read_input_tokens: 96 },
      ],
      ["message_stop"],
    ]);
    expect(message.content).toEqual([{ type: "text", text: "Hello world", citations: null }]);
    expect(message.usage).toMatchObject({ input_tokens: 24, output_tokens: 3, cache_read_input_tokens: 96 });
  });

  it("a tool call streamed in fragments becomes one tool_use block with the assembled, checked input", () => {
    const chunks = vllm.toolCalls([
      { id: "chatcmpl-tool-8f1e", name: "get_weather", fragments: ['{"city": "', "Par", 'is", "days": 2}'] },
    ]);
    const { events, message } = run(chunks);
    expect(shape(events)).toEqual([
      ["start", 0, "tool_use"],
      ["delta", 0, '{"city":"Paris","days":2}'],
      ["stop", 0],
      [
        "message_delta",
        "tool_use",
        null,
        { output_tokens: 20, input_tokens: 40, cache_read_input_tokens: 0 },
      ],
      ["message_stop"],
    ]);
    expect(message.content).toEqual([
      {
        type: "tool_use",
        id: toAnthropicToolId("chatcmpl-tool-8f1e"),
        name: "get_weather",
        input: { city: "Paris", days: 2 },
      },
    ]);
  });

  it("two parallel tool calls get a block each, in order", () => {
    const chunks = vllm.toolCalls([
      { id: "call_a", name: "get_weather", fragments: ['{"city":', '"Paris"}'] },
      { id: "call_b", name: "get_time", fragments: ['{"tz":"Europe/Oslo"}'] },
    ]);
    const { events, message } = run(chunks);
    expect(shape(events)).toEqual([
      ["start", 0, "tool_use"],
      ["delta", 0, '{"city":"Paris"}'],
      ["stop", 0],
      ["start", 1, "tool_use"],
      ["delta", 1, '{"tz":"Europe/Oslo"}'],
      ["stop", 1],
      ["message_delta", "tool_use", null, expect.anything()],
      ["message_stop"],
    ]);
    expect(message.content.map((b) => (b.type === "tool_use" ? [b.id, b.input] : b.type))).toEqual([
      [toAnthropicToolId("call_a"), { city: "Paris" }],
      [toAnthropicToolId("call_b"), { tz: "Europe/Oslo" }],
    ]);
  });

  it("text before a tool call closes before the tool_use block; no empty leading text block", () => {
    const chunks = [
      vllm.chunk({ role: "assistant", content: "" }),
      vllm.chunk({ content: "" }),
      vllm.chunk({ content: "Let me check." }),
      vllm.chunk({ tool_calls: [{ id: "c1", type: "function", index: 0, function: { name: "f" } }] }),
      vllm.chunk({ tool_calls: [{ index: 0, function: { arguments: "{}" } }] }),
      vllm.chunk({ content: "" }, "stop"),
    ];
    const { events, message } = run(chunks);
    expect(shape(events)).toEqual([
      ["start", 0, "text"],
      ["delta", 0, "Let me check."],
      ["stop", 0],
      ["start", 1, "tool_use"],
      ["delta", 1, "{}"],
      ["stop", 1],
      // finish_reason "stop" but a tool_use was sent: the client must see tool_use
      ["message_delta", "tool_use", null, { output_tokens: 2 }],
      ["message_stop"],
    ]);
    expect(message.stop_reason).toBe("tool_use");
  });

  it("reasoning (vLLM 0.16+) and reasoning_content (older) become a thinking block before the text", () => {
    for (const field of ["reasoning", "reasoning_content"]) {
      const { message } = run([
        vllm.chunk({ role: "assistant", content: "" }),
        vllm.chunk({ [field]: "Think" }),
        vllm.chunk({ [field]: "ing." }),
        vllm.chunk({ content: "Answer" }),
        vllm.chunk({ content: "" }, "stop"),
        vllm.usage(5, 4),
      ]);
      expect(message.content).toEqual([
        { type: "thinking", thinking: "Thinking.", signature: "" },
        { type: "text", text: "Answer", citations: null },
      ]);
    }
  });

  it("names the stop sequence vLLM reports in stop_reason", () => {
    const { message } = run(
      [
        vllm.chunk({ role: "assistant", content: "" }),
        vllm.chunk({ content: "1, 2" }),
        vllm.chunk({ content: "" }, "stop", "END"),
      ],
      { stopSequences: ["END"] },
    );
    expect(message).toMatchObject({ stop_reason: "stop_sequence", stop_sequence: "END" });
  });

  it("finish_reason length → max_tokens", () => {
    const { message } = run([
      vllm.chunk({ content: "abc" }),
      vllm.chunk({ content: "" }, "length"),
      vllm.usage(3, 1),
    ]);
    expect(message.stop_reason).toBe("max_tokens");
  });
});

describe("llama-server streams", () => {
  it("reads the role chunk with content null, reasoning_content, and usage inside the finish chunk", () => {
    const { events, message } = run([
      llamaServer.chunk({ role: "assistant", content: null }),
      llamaServer.chunk({ reasoning_content: "We" }),
      llamaServer.chunk({ reasoning_content: " greet." }),
      llamaServer.chunk({ content: "Hello!" }),
      llamaServer.chunk({}, "stop", { prompt: 1085, completion: 247 }),
    ]);
    expect(shape(events)).toEqual([
      ["start", 0, "thinking"],
      ["delta", 0, "We"],
      ["delta", 0, " greet."],
      ["stop", 0],
      ["start", 1, "text"],
      ["delta", 1, "Hello!"],
      ["stop", 1],
      [
        "message_delta",
        "end_turn",
        null,
        { output_tokens: 247, input_tokens: 1085, cache_read_input_tokens: 0 },
      ],
      ["message_stop"],
    ]);
    expect(message.usage.input_tokens).toBe(1085);
  });

  it("tool calls whose first fragment carries an empty arguments string", () => {
    const { message } = run([
      llamaServer.chunk({ role: "assistant", content: null }),
      llamaServer.chunk({
        tool_calls: [
          { index: 0, id: "Xq3kP0aZ", type: "function", function: { name: "get_weather", arguments: "" } },
        ],
      }),
      llamaServer.chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":"' } }] }),
      llamaServer.chunk({ tool_calls: [{ index: 0, function: { arguments: 'Rome"}' } }] }),
      llamaServer.chunk({}, "tool_calls", { prompt: 50, completion: 12 }),
    ]);
    expect(message.content).toEqual([
      { type: "tool_use", id: toAnthropicToolId("Xq3kP0aZ"), name: "get_weather", input: { city: "Rome" } },
    ]);
    expect(message.stop_reason).toBe("tool_use");
  });
});

describe("Ollama streams", () => {
  it("whole tool calls in one chunk each, role repeated, usage in a trailing chunk", () => {
    const { events, message } = run([
      ollama.chunk({
        content: "",
        tool_calls: [
          {
            id: "call_wteop8bt",
            index: 0,
            type: "function",
            function: { name: "run", arguments: '{"command":"ls"}' },
          },
        ],
      }),
      ollama.chunk({
        content: "",
        tool_calls: [
          {
            id: "call_rk2xye1l",
            index: 1,
            type: "function",
            function: { name: "run", arguments: '{"command":"ls -l"}' },
          },
        ],
      }),
      ollama.chunk({ content: "" }, "tool_calls"),
      ollama.usage(88, 31),
    ]);
    expect(shape(events)).toEqual([
      ["start", 0, "tool_use"],
      ["delta", 0, '{"command":"ls"}'],
      ["stop", 0],
      ["start", 1, "tool_use"],
      ["delta", 1, '{"command":"ls -l"}'],
      ["stop", 1],
      [
        "message_delta",
        "tool_use",
        null,
        { output_tokens: 31, input_tokens: 88, cache_read_input_tokens: 0 },
      ],
      ["message_stop"],
    ]);
    expect(message.content).toHaveLength(2);
  });

  it("reasoning field becomes thinking", () => {
    const { message } = run([
      ollama.chunk({ content: "", reasoning: "hmm" }),
      ollama.chunk({ content: "ok" }, "stop"),
    ]);
    expect(message.content.map((b) => b.type)).toEqual(["thinking", "text"]);
  });
});

describe("stop sequences matched in Parley", () => {
  it("ends the reply at a sequence split across chunks, holding back only the possible prefix", () => {
    const { events, message, translator } = run(
      [
        vllm.chunk({ content: "one two <" }),
        vllm.chunk({ content: "/ans" }),
        vllm.chunk({ content: "wer> three" }),
      ],
      { stopSequences: ["</answer>"], estimatedInputTokens: 7 },
    );
    expect(translator.done).toBe(true);
    expect(message).toMatchObject({
      content: [{ type: "text", text: "one two " }],
      stop_reason: "stop_sequence",
      stop_sequence: "</answer>",
    });
    expect(events.at(-2)).toMatchObject({ type: "message_delta", usage: { output_tokens: 3 } });
    expect(message.usage.input_tokens).toBe(7);
  });

  it("flushes held-back text that turned out not to be a stop sequence", () => {
    const { message } = run([vllm.chunk({ content: "a <" }), vllm.chunk({ content: "" }, "stop")], {
      stopSequences: ["<end>"],
    });
    expect(message.content).toEqual([{ type: "text", text: "a <", citations: null }]);
  });
});

describe("broken streams", () => {
  it("a stream that stops without finish_reason or [DONE] is an error, not an end_turn", () => {
    const t = new OpenAIChunkTranslator(options);
    t.push(vllm.chunk({ content: "partial" }) as OpenAIChunk);
    expect(() => t.end(false)).toThrow(expect.objectContaining({ status: 500, type: "api_error" }));
  });

  it("an error object mid-stream throws an api_error without the upstream's text", () => {
    const t = new OpenAIChunkTranslator(options);
    expect(() => t.push({ error: { message: "CUDA out of memory at 0x7f", code: 500 } })).toThrow(
      expect.objectContaining({ message: "The upstream failed while replying" }),
    );
  });

  it("a stream with [DONE] but no choice at all is an error, not an empty end_turn", () => {
    const t = new OpenAIChunkTranslator(options);
    t.push({ id: "x", object: "chat.completion.chunk" });
    expect(() => t.end(true)).toThrow(expect.objectContaining({ status: 500, type: "api_error" }));
  });
});

describe("tool calls: assembly, repair and validation", () => {
  const weather = {
    name: "get_weather",
    input_schema: {
      type: "object" as const,
      properties: { city: { type: "string" }, days: { type: "integer" } },
      required: ["city"],
    },
  };
  const tools = [weather];
  const call = (index: number, args: string, id?: string, name?: string) =>
    vllm.chunk({
      tool_calls: [
        { index, ...(id ? { id } : {}), function: { ...(name ? { name } : {}), arguments: args } },
      ],
    });
  const finish = vllm.chunk({}, "tool_calls");

  it("parallel calls whose argument fragments interleave are assembled per call index", () => {
    const { message } = run(
      [
        call(0, '{"ci', "call_a", "get_weather"),
        call(1, '{"city":', "call_b", "get_weather"),
        call(0, 'ty":"Paris"}'),
        call(1, '"Oslo","days":3}'),
        finish,
      ],
      { tools },
    );
    expect(message.content).toEqual([
      { type: "tool_use", id: toAnthropicToolId("call_a"), name: "get_weather", input: { city: "Paris" } },
      {
        type: "tool_use",
        id: toAnthropicToolId("call_b"),
        name: "get_weather",
        input: { city: "Oslo", days: 3 },
      },
    ]);
    expect(message.stop_reason).toBe("tool_use");
  });

  it.each([
    ["cut off", '{"city": "Paris"', { city: "Paris" }],
    ["single quotes and a trailing comma", "{'city': 'Paris',}", { city: "Paris" }],
    ["Python literals", '{"city": "Paris", "days": None}', null],
  ])("repairs broken JSON (%s) when the result fits the schema", (_name, args, input) => {
    const { message, translator } = run([call(0, args, "c1", "get_weather"), finish], { tools });
    if (input === null) {
      // repaired to {"days": null}, which the schema refuses: text, not a tool_use
      expect(message.content[0].type).toBe("text");
      return;
    }
    expect(message.content).toEqual([
      { type: "tool_use", id: toAnthropicToolId("c1"), name: "get_weather", input },
    ]);
    expect(translator.repairedToolCalls).toBe(1);
  });

  it.each([
    ["an array", "[1, 2]", "an array, not a JSON object"],
    ["a string", '"Paris"', "a string, not a JSON object"],
    ["missing a required field", '{"days": 2}', "do not match input_schema"],
    ["of the wrong type", '{"city": 7}', "do not match input_schema"],
  ])("arguments that are %s become a text block with the raw arguments, not tool_use", (_n, args, why) => {
    const { message, translator } = run([call(0, args, "c1", "get_weather"), finish], { tools });
    expect(message.stop_reason).toBe("end_turn");
    expect(message.content).toHaveLength(1);
    const block = message.content[0];
    expect(block.type).toBe("text");
    const text = (block as { text: string }).text;
    expect(text).toContain(why);
    expect(text).toContain(`Raw arguments: ${args}`);
    expect(translator.rejectedToolCalls).toEqual([
      { name: "get_weather", reason: expect.stringContaining(why) },
    ]);
  });

  it("a call to a tool the request does not define is refused; a valid sibling still goes out", () => {
    const { message } = run(
      [call(0, '{"city":"Rome"}', "c1", "get_weather"), call(1, "{}", "c2", "rm_rf"), finish],
      { tools },
    );
    expect(message.content.map((b) => b.type)).toEqual(["tool_use", "text"]);
    expect((message.content[1] as { text: string }).text).toContain('no tool named "rm_rf"');
    expect(message.stop_reason).toBe("tool_use");
  });

  it("upstream ids become toolu_ ids and map back unchanged; Parley's own ids pass as they are", () => {
    for (const id of ["call_abc123", "chatcmpl-tool-8f1e", "Xq3kP0aZ"]) {
      const mapped = toAnthropicToolId(id);
      expect(mapped).toMatch(/^toolu_[0-9a-zA-Z]+$/);
      expect(toUpstreamToolId(mapped)).toBe(id);
    }
    expect(toAnthropicToolId("toolu_01abc")).toBe("toolu_01abc");
    expect(toUpstreamToolId("toolu_01abc")).toBe("toolu_01abc");
    expect(toUpstreamToolId("toolu_x00ff")).toBe("toolu_x00ff");
  });
});

describe("fromOpenAIResponse", () => {
  const fold = (events: StreamEvent[]) => {
    const f = new StreamFolder();
    for (const e of events) f.add(e);
    return f.result();
  };

  it("text, reasoning, tool calls and cached usage", () => {
    const message = fold(
      fromOpenAIResponse(
        {
          id: "chatcmpl-1",
          choices: [
            {
              index: 0,
              message: {
                role: "assistant",
                reasoning_content: "Plan.",
                content: "Calling.",
                tool_calls: [
                  { id: "call_9", type: "function", function: { name: "f", arguments: '{"x":1}' } },
                ],
              },
              finish_reason: "tool_calls",
            },
          ],
          usage: { prompt_tokens: 50, completion_tokens: 9, prompt_tokens_details: { cached_tokens: 32 } },
        },
        options,
      ),
    );
    expect(message).toMatchObject({
      model: "claude-x",
      content: [
        { type: "thinking", thinking: "Plan." },
        { type: "text", text: "Calling." },
        { type: "tool_use", id: toAnthropicToolId("call_9"), name: "f", input: { x: 1 } },
      ],
      stop_reason: "tool_use",
      usage: { input_tokens: 18, cache_read_input_tokens: 32, output_tokens: 9 },
    });
  });

  it.each([
    [
      "an error body",
      { error: { message: "model overloaded", type: "server_error" } },
      "failed while replying",
    ],
    ["no choices", { id: "chatcmpl-1", object: "chat.completion" }, "without choices"],
    ["an empty choices list", { choices: [] }, "without choices"],
    ["a choice without a message", { choices: [{ index: 0, finish_reason: "stop" }] }, "without choices"],
  ])("a 200 with %s is an api_error, never an empty end_turn", (_n, body, message) => {
    expect(() => fromOpenAIResponse(body as never, options)).toThrow(
      expect.objectContaining({ status: 500, type: "api_error", message: expect.stringContaining(message) }),
    );
  });

  it("cuts the text at a stop sequence beyond the upstream's limit", () => {
    const message = fold(
      fromOpenAIResponse(
        {
          choices: [
            { index: 0, message: { role: "assistant", content: "alpha STOP beta" }, finish_reason: "stop" },
          ],
        },
        { ...options, stopSequences: ["x", "y", "z", "w", "STOP"] },
      ),
    );
    expect(message).toMatchObject({
      content: [{ text: "alpha " }],
      stop_reason: "stop_sequence",
      stop_sequence: "STOP",
    });
  });
});
