import { describe, expect, it, vi } from "vitest";
import { ChunkParser } from "../../src/providers/openai/chunk-parser.ts";

/** vLLM, compact, fields in its order. */
const vllm = (content: string, finish: string | null = null) =>
  `{"id":"chatcmpl-7f","object":"chat.completion.chunk","created":1764000000,"model":"qwen","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"logprobs":null,"finish_reason":${JSON.stringify(finish)}}]}`;
/** llama-server puts choices first and the id after. */
const llamaServer = (content: string, created = 1764000000) =>
  `{"choices":[{"finish_reason":null,"index":0,"delta":{"content":${JSON.stringify(content)}}}],"created":${created},"id":"chatcmpl-x","model":"gpt-3.5-turbo","system_fingerprint":"b6000","object":"chat.completion.chunk"}`;
/** Ollama repeats the role in every chunk. */
const ollama = (content: string) =>
  `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1764000000,"model":"llama3","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":${JSON.stringify(content)}},"finish_reason":null}]}`;
/** Python's json.dumps with its default separators. */
const spaced = (content: string) =>
  `{"id": "c", "choices": [{"index": 0, "delta": {"content": ${JSON.stringify(content)}}, "finish_reason": null}]}`;

const WORDS = [
  "Hello",
  " world",
  "",
  ' "quoted"',
  " back\\slash",
  " \u00e9t\u00e9",
  " 😀",
  "\n",
  " tab\t",
  " </s>",
];

/** Each text through one parser, against JSON.parse of the same text; and its delta alone when plain. */
function same(texts: string[]): void {
  const parser = new ChunkParser();
  for (const text of texts) {
    const delta = parser.delta(text);
    if (delta !== undefined) {
      const whole = JSON.parse(text);
      expect(delta).toEqual(whole.choices[0].delta);
      expect(plain(whole), text).toBe(true);
    }
    const parsed = parser.parse(text);
    expect(parsed).toEqual(JSON.parse(text));
    expect(JSON.stringify(parsed)).toBe(JSON.stringify(JSON.parse(text)));
  }
}

/** What the translator reads of a chunk is its choice 0's delta alone (ChunkParser.delta's promise). */
const plain = (c: Record<string, unknown>): boolean => {
  const choices = c.choices as Record<string, unknown>[];
  const choice = choices[0] as Record<string, unknown>;
  return (
    choices.length === 1 &&
    (choice.index ?? 0) === 0 &&
    !choice.finish_reason &&
    !("stop_reason" in choice) &&
    c.usage == null &&
    !("error" in c) &&
    (choice.delta as Record<string, unknown>).tool_calls == null
  );
};

describe("ChunkParser", () => {
  it.each([
    { name: "vLLM", texts: [...WORDS.map((w) => vllm(w)), vllm("", "stop")] },
    { name: "llama-server", texts: WORDS.map((w) => llamaServer(w)) },
    {
      name: "llama-server with created moving on",
      texts: WORDS.map((w, i) => llamaServer(w, 1764000000 + (i >> 2))),
    },
    { name: "Ollama", texts: WORDS.map(ollama) },
    { name: "spaced separators", texts: WORDS.map(spaced) },
    {
      name: "a role chunk, text, a finish chunk and a usage chunk",
      texts: [
        '{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}',
        ...WORDS.map(
          (w) =>
            `{"id":"c","choices":[{"index":0,"delta":{"content":${JSON.stringify(w)}},"finish_reason":null}]}`,
        ),
        '{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
        '{"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}',
      ],
    },
    {
      name: "reasoning, then text, then tool calls",
      texts: [
        '{"choices":[{"index":0,"delta":{"reasoning_content":"hmm","content":null}}]}',
        '{"choices":[{"index":0,"delta":{"reasoning_content":"ok","content":null}}]}',
        '{"choices":[{"index":0,"delta":{"content":"A"}}]}',
        '{"choices":[{"index":0,"delta":{"content":"B"}}]}',
        '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":"{\\"content\\":"}}]}}]}',
        '{"choices":[{"index":0,"delta":{"content":"C"}}]}',
      ],
    },
    {
      name: "vLLM reasoning (reasoning_content, content null), then the answer",
      texts: [
        ...WORDS.map(
          (w) =>
            `{"id":"c","choices":[{"index":0,"delta":{"reasoning_content":${JSON.stringify(w)},"content":null},"finish_reason":null}]}`,
        ),
        ...WORDS.map(
          (w) =>
            `{"id":"c","choices":[{"index":0,"delta":{"content":${JSON.stringify(w)}},"finish_reason":null}]}`,
        ),
      ],
    },
    {
      name: "Ollama reasoning (reasoning, content empty)",
      texts: WORDS.map(
        (w) =>
          `{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":${JSON.stringify(w)}}}]}`,
      ),
    },
    {
      name: "both text fields varying",
      texts: WORDS.map(
        (w, i) =>
          `{"choices":[{"index":0,"delta":{"content":${JSON.stringify(w)},"reasoning_content":${JSON.stringify(WORDS[(i + 3) % WORDS.length])}}}]}`,
      ),
    },
    {
      name: "a second content key (a logprobs entry) is never a template",
      texts: WORDS.map(
        (w) =>
          `{"choices":[{"index":0,"delta":{"content":${JSON.stringify(w)}},"logprobs":{"content":[{"token":${JSON.stringify(w)}}]}}]}`,
      ),
    },
    {
      name: "content as a value elsewhere, with the same text around it",
      texts: [
        '{"id":"\\"content\\":\\"x\\"","choices":[{"index":0,"delta":{"content":"a"}}]}',
        '{"id":"\\"content\\":\\"x\\"","choices":[{"index":0,"delta":{"content":"b"}}]}',
      ],
    },
    {
      name: "two choices",
      texts: [
        '{"choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"delta":{"content":"b"}}]}',
        '{"choices":[{"index":0,"delta":{"content":"c"}},{"index":1,"delta":{"content":"d"}}]}',
      ],
    },
    {
      name: "a longer tail after the string is not the template's",
      texts: [
        '{"choices":[{"index":0,"delta":{"content":"a"}}]}',
        '{"choices":[{"index":0,"delta":{"content":"b","refusal":null}}]}',
        '{"choices":[{"index":0,"delta":{"content":"c"}}]}',
      ],
    },
  ])("$name: equal to JSON.parse", ({ texts }) => same(texts));

  it("rejects what JSON.parse rejects, after a template is set", () => {
    const parser = new ChunkParser();
    parser.parse(vllm("a"));
    for (const bad of [
      vllm("a").replace('"a"', '"a\u0001"'),
      vllm("a").replace('"a"', '"a\\q"'),
      vllm("a").replace('"a"', '"a'),
      vllm("a").replace('"a"', '"a"}'),
    ]) {
      expect(() => JSON.parse(bad), bad).toThrow();
      expect(() => parser.parse(bad), bad).toThrow();
    }
  });

  it("reads a reasoning chunk like the template's as its string alone", () => {
    const parser = new ChunkParser();
    const reasoning = (w: string) =>
      `{"id":"c","choices":[{"index":0,"delta":{"reasoning_content":${JSON.stringify(w)},"content":null}}]}`;
    const parse = vi.spyOn(JSON, "parse");
    try {
      for (const w of ["a", "b", "c"]) parser.parse(reasoning(w));
      expect(parse.mock.calls.map(([text]) => text)).toEqual([reasoning("a")]);
    } finally {
      parse.mockRestore();
    }
  });

  it("reads a plain text chunk as its delta alone, and leaves every other chunk to parse", () => {
    const parser = new ChunkParser();
    const texts = [
      vllm("a"),
      vllm("b"),
      vllm("c", "stop"),
      vllm("d"),
      '{"id":"c","choices":[{"index":0,"delta":{"content":"e"},"finish_reason":null,"stop_reason":null}]}',
      '{"id":"c","choices":[{"index":0,"delta":{"content":"f"},"finish_reason":null,"stop_reason":null}]}',
      '{"id":"c","choices":[{"index":0,"delta":{"content":"g"},"finish_reason":null}],"usage":{"prompt_tokens":1}}',
      '{"id":"c","choices":[{"index":0,"delta":{"content":"h"},"finish_reason":null}],"usage":{"prompt_tokens":1}}',
      '{"id":"c","choices":[{"index":1,"delta":{"content":"i"}}]}',
      '{"id":"c","choices":[{"index":1,"delta":{"content":"j"}}]}',
      '{"id":"c","choices":[{"index":0,"delta":{"content":"k","tool_calls":[]}}]}',
      '{"id":"c","choices":[{"index":0,"delta":{"content":"l","tool_calls":[]}}]}',
      '{"id":"c","choices":[{"index":0,"delta":{"content":"m"}}],"usage":null}',
      '{"id":"c","choices":[{"index":0,"delta":{"content":"n"}}],"usage":null}',
      vllm("o"),
      vllm("p").replace('"p"', '"p'),
    ];
    const read = texts.map((text) => {
      const delta = parser.delta(text);
      try {
        parser.parse(text);
      } catch {}
      return delta?.content;
    });
    // Only a chunk after a plain one of the same layout: not the finish, stop_reason, usage, a
    // second choice or tool-call chunks, nor a damaged one.
    expect(read).toEqual([
      undefined,
      "b",
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      "n",
      undefined,
      undefined,
    ]);
  });

  it("returns a new object per chunk, so a consumer that keeps one sees it unchanged", () => {
    const parser = new ChunkParser();
    const first = parser.parse(vllm("a"));
    const second = parser.parse(vllm("b"));
    const third = parser.parse(vllm("c"));
    expect([first, second, third].map((c) => c.choices?.[0]?.delta?.content)).toEqual(["a", "b", "c"]);
    expect(second).not.toBe(third);
  });

  it("parses whole only what is not the template with a new string", () => {
    const parser = new ChunkParser();
    const parse = vi.spyOn(JSON, "parse");
    try {
      for (const w of ["a", "b", "c", " d", ' "e"']) parser.parse(vllm(w));
      parser.parse(vllm("", "stop"));
      // The first chunk whole, the escaped string alone, the finish chunk whole.
      expect(parse.mock.calls.map(([text]) => text)).toEqual([vllm("a"), '" \\"e\\""', vllm("", "stop")]);
    } finally {
      parse.mockRestore();
    }
  });

  it("behaves as JSON.parse on 3000 random chunks, one in five of them damaged", () => {
    let seed = 11;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const pieces = ["a", " the", '"', "\\", "\n", "é", "😀", "\u0041", "}", "]", ",", ":", '"content":'];
    const word = () => Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(pieces)).join("");
    const layouts = [vllm, llamaServer, ollama, spaced];
    const parser = new ChunkParser();
    for (let i = 0; i < 3000; i++) {
      const layout = i % 200 < 100 ? layouts[Math.floor(i / 200) % layouts.length] : pick(layouts);
      let text = layout(word());
      if (random() < 0.2) {
        const at = Math.floor(random() * text.length);
        text =
          random() < 0.5
            ? text.slice(0, at) + text.slice(at + 1)
            : text.slice(0, at) + pick(['"', "\\", "x", "\u0001"]) + text.slice(at);
      }
      let expected: unknown;
      try {
        expected = JSON.parse(text);
      } catch {
        expected = "throws";
      }
      let actual: unknown;
      try {
        actual = parser.parse(text);
      } catch {
        actual = "throws";
      }
      if (JSON.stringify(actual) !== JSON.stringify(expected))
        expect({ text, actual }).toEqual({ text, actual: expected });
    }
  });
});
