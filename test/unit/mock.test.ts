import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import type { MockModelConfig } from "../../src/config/index.ts";
import {
  foldStream,
  type MessageCreateParams,
  type StreamEvent,
  ThinkingSigner,
  toMessageRequest,
} from "../../src/protocol/index.ts";
import { exampleFor, MockProvider, mockTokens, readScript } from "../../src/providers/mock/index.ts";
import { isSpace } from "../../src/providers/mock/tokens.ts";

const sharedDir = process.env.PARLEY_SHARED_DIR ?? join(import.meta.dirname, "../../../shared");
const capture = join(sharedDir, "wire/captures/claude-code-2.1.197-tool.jsonl");

const request = (body: Partial<MessageCreateParams>) =>
  toMessageRequest(
    { model: "mock", max_tokens: 10, messages: [{ role: "user", content: "hi" }], ...body },
    { apiVersion: "2023-06-01", rawApiVersion: "2023-06-01", betas: [] },
  );

describe("mock tokenizer", () => {
  it.each([
    ["", []],
    ["one", ["one"]],
    ["one two  three\n", ["one ", "two  ", "three\n"]],
    ["  lead", ["  ", "lead"]],
    ["你好 世界", ["你好 ", "世界"]],
  ])("%j", (text, tokens) => {
    expect(mockTokens(text)).toEqual(tokens);
    expect(mockTokens(text).join("")).toBe(text);
  });

  it("splits as the regex it replaced does, Unicode spaces included", () => {
    const regexTokens = (text: string) => text.match(/^\s+|\S+\s*/g) ?? [];
    const spaces = [" ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\u3000", "\ufeff", "\u2028"];
    const words = ["a", "hé", "你好", "x\u200by", "😀", "[[tool:x]]"];
    for (let seed = 0; seed < 500; seed++) {
      let text = "";
      for (let i = 0; i < (seed % 9) + 1; i++) {
        const pick = (seed * 31 + i * 17) % 7;
        text += pick < 3 ? spaces[(seed + i) % spaces.length] : words[(seed * 7 + i) % words.length];
      }
      expect(mockTokens(text)).toEqual(regexTokens(text));
    }
  });

  it("isSpace is what \\s matches, for every UTF-16 code unit", () => {
    const wrong: number[] = [];
    for (let c = 0; c <= 0xffff; c++) if (isSpace(c) !== /\s/.test(String.fromCharCode(c))) wrong.push(c);
    expect(wrong).toEqual([]);
  });
});

describe("mock directives", () => {
  it.each([
    ["plain text", { text: "plain text", tools: [], streamError: false, delayMs: 0 }],
    [
      'Look [[tool:get_weather {"city":"Oslo","nested":{"a":[1]}}]] now',
      {
        text: "Look  now",
        tools: [{ name: "get_weather", input: { city: "Oslo", nested: { a: [1] } } }],
        streamError: false,
        delayMs: 0,
      },
    ],
    [
      "[[tool:a]][[tool:b]]",
      { text: "", tools: [{ name: "a" }, { name: "b" }], streamError: false, delayMs: 0 },
    ],
    ["[[error:429]]", { text: "", tools: [], errorStatus: 429, streamError: false, delayMs: 0 }],
    ["x [[delay:25]] [[stream-error]]", { text: "x", tools: [], streamError: true, delayMs: 25 }],
    ["[[delay:999999]]", { text: "", tools: [], streamError: false, delayMs: 60_000 }],
  ])("%s", async (content, script) => {
    expect(await readScript(request({ messages: [{ role: "user", content }] }))).toEqual(script);
  });

  it("rejects a directive whose input is not a JSON object", async () => {
    await expect(
      readScript(request({ messages: [{ role: "user", content: "[[tool:t {nope}]]" }] })),
    ).rejects.toThrow(/needs a JSON object/);
  });

  it('leaves out Claude Code\'s injected <system-reminder> blocks, so `claude -p "hello parley"` echoes just that', async () => {
    const reminder = "<system-reminder>\nAs you answer, today's date is 2026-12-02.\n</system-reminder>";
    const script = await readScript(
      request({
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: reminder },
              { type: "text", text: "hello parley", cache_control: { type: "ephemeral" } },
              { type: "text", text: `  ${reminder}\n` },
            ],
          },
          { role: "system", content: "Environment: linux" },
        ],
      }),
    );
    expect(script.text).toBe("hello parley");
    // Text that merely mentions a reminder is the user's own.
    const mention = "see <system-reminder>x</system-reminder> here";
    expect((await readScript(request({ messages: [{ role: "user", content: mention }] }))).text).toBe(
      mention,
    );
  });

  it("echoes tool results when the last user turn has no text", async () => {
    const script = await readScript(
      request({
        messages: [
          { role: "user", content: "go" },
          { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "x", input: {} }] },
          {
            role: "user",
            content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "text", text: "42" }] }],
          },
        ],
      }),
    );
    expect(script.text).toBe("42");
  });
});

describe("exampleFor makes schema-valid input", () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const schemas: [string, Record<string, unknown>][] = [
    [
      "numbers",
      {
        type: "object",
        properties: {
          n: { type: "integer", minimum: 3, multipleOf: 2 },
          x: { type: "number", exclusiveMinimum: 0 },
        },
        required: ["n", "x"],
      },
    ],
    [
      "strings",
      {
        type: "object",
        properties: {
          s: { type: "string", minLength: 40, maxLength: 50 },
          e: { type: "string", format: "email" },
        },
        required: ["s", "e"],
      },
    ],
    [
      "refs",
      {
        type: "object",
        $defs: { P: { type: "object", properties: { k: { enum: ["a", "b"] } }, required: ["k"] } },
        properties: { p: { $ref: "#/$defs/P" } },
        required: ["p"],
      },
    ],
    [
      "unions",
      {
        type: "object",
        properties: {
          u: { anyOf: [{ type: "null" }, { type: "array", items: { type: "boolean" }, minItems: 2 }] },
        },
        required: ["u"],
      },
    ],
    [
      "allOf",
      {
        allOf: [
          { type: "object", properties: { a: { type: "string" } }, required: ["a"] },
          { properties: { b: { const: 7 } }, required: ["b"] },
        ],
      },
    ],
    ["empty", { type: "object", properties: {}, additionalProperties: false }],
  ];
  it.each(schemas)("%s", (_name, schema) => {
    const value = exampleFor(schema, "Paris");
    expect(ajv.validate(schema, value), JSON.stringify(ajv.errors)).toBe(true);
  });

  it.skipIf(!existsSync(capture))("for every Claude Code tool schema in the captures", () => {
    const line = readFileSync(capture, "utf8")
      .split("\n")
      .find((l) => l.includes('"tools"'));
    const tools = JSON.parse(line as string).body.tools as {
      name: string;
      input_schema: Record<string, unknown>;
    }[];
    expect(tools.length).toBeGreaterThan(20);
    for (const tool of tools) {
      const value = exampleFor(tool.input_schema, "echo hello");
      expect(ajv.validate(tool.input_schema, value), `${tool.name}: ${JSON.stringify(ajv.errors)}`).toBe(
        true,
      );
    }
  });
});

describe("hostile input costs linear work", () => {
  /** The regex the scanner replaced, for comparison (arguments within the scanner's bounds). */
  const DIRECTIVE = /\[\[(tool|error|delay|stream-error)(?::([^\]\s]+))?(?:\s+(\{[\s\S]*?\}))?\]\]/g;
  const viaRegex = (text: string) => {
    const found: string[] = [];
    const rest = text.replace(DIRECTIVE, (_m, kind: string, arg?: string) => {
      found.push(`${kind}:${arg ?? ""}`);
      return "";
    });
    return { rest: rest.trim(), found };
  };

  it("the directive scanner reads what the regex read, on generated text", async () => {
    const fc = await import("fast-check");
    const piece = fc.constantFrom(
      "[[",
      "]]",
      "}]]",
      "[[tool:t",
      "[[tool:t]]",
      "[[error:529]]",
      "[[delay:5]]",
      "[[stream-error]]",
      " {",
      '{"a":1}',
      "}",
      ":",
      " ",
      "x",
      "\n",
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 30 }), async (parts) => {
        const text = parts.join("");
        let script: Awaited<ReturnType<typeof readScript>>;
        try {
          script = await readScript(request({ messages: [{ role: "user", content: text || "." }] }));
        } catch {
          return true; // a directive with non-object JSON: a 400 either way
        }
        const expected = viaRegex(text || ".");
        expect(script.text).toBe(expected.rest);
        const tools = expected.found.filter((f) => f.startsWith("tool:") && f !== "tool:");
        expect(script.tools.map((t) => `tool:${t.name}`)).toEqual(tools);
      }),
      { numRuns: 500 },
    );
  });

  it("a directive after 200 KB of openers is still found (the text is read in slices)", async () => {
    const text = `${"[[".repeat(100_000)}[[tool:t]]`;
    const script = await readScript(request({ messages: [{ role: "user", content: text }] }));
    expect(script.tools).toEqual([{ name: "t" }]);
    expect(script.text).toBe("[[".repeat(100_000));
  });

  it("640 KB of unclosed directive openers is read in one pass", async () => {
    const text = "[[tool:x {".repeat(64_000);
    const script = await readScript(request({ messages: [{ role: "user", content: text }] }));
    expect(script.tools).toEqual([]);
    expect(script.text.length).toBe(text.length);
  });

  const recursive = {
    type: "object",
    properties: { a: { $ref: "#" }, b: { $ref: "#" }, c: { $ref: "#" } },
    required: ["a", "b", "c"],
  };
  const level = (n: number) => ({
    type: "object",
    properties: Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [
        `p${i}`,
        n < 4 ? { $ref: `#/$defs/L${n + 1}` } : { type: "integer" },
      ]),
    ),
    required: Array.from({ length: 10 }, (_, i) => `p${i}`),
  });
  const wide = { $defs: Object.fromEntries([1, 2, 3, 4].map((n) => [`L${n}`, level(n)])), ...level(0) };
  it.each([
    [
      "recursive $refs (3^32 values)",
      recursive,
      /schema at #\/properties\/a: it nests deeper than 32 levels/,
    ],
    [
      "ten required properties, five levels deep (10^5 values)",
      wide,
      /it (expands to more than 10000 values|takes more than 20 ms)/,
    ],
    [
      "a required chain deeper than 32 levels",
      {
        $defs: { n: { type: "object", properties: { n: { $ref: "#/$defs/n" } }, required: ["n"] } },
        $ref: "#/$defs/n",
      },
      /nests deeper than 32 levels/,
    ],
    [
      "huge minItems of objects",
      {
        type: "object",
        properties: { l: { type: "array", minItems: 150_000, items: { type: "object" } } },
        required: ["l"],
      },
      /schema at #\/properties\/l(\/items)?: it (expands to more than 10000 values|takes more than 20 ms)/,
    ],
  ])("%s is a 400 that names the schema part", (_name, schema, message) => {
    expect(() => exampleFor(schema, "Paris", "tools[0].input_schema")).toThrow(
      expect.objectContaining({
        status: 400,
        type: "invalid_request_error",
        message: expect.stringMatching(message),
      }),
    );
  });
});

describe("mock text deltas", () => {
  const provider = new MockProvider(
    { id: "mock", provider: "mock" } as MockModelConfig,
    new ThinkingSigner(Buffer.alloc(32, 7)),
  );
  const events = async (body: Partial<MessageCreateParams>) => {
    const out: StreamEvent[] = [];
    for await (const e of provider.stream(request(body), {
      signal: new AbortController().signal,
      requestId: "req_1",
    }))
      out.push(e);
    return out;
  };
  const deltas = (es: StreamEvent[]) =>
    es.flatMap((e) =>
      e.type === "content_block_delta" && e.delta.type === "text_delta" ? [e.delta.text] : [],
    );

  it.each([
    [
      "plain",
      { messages: [{ role: "user" as const, content: "one two three four" }] },
      ["one ", "two ", "three ", "four"],
    ],
    [
      "cut by max_tokens",
      { max_tokens: 2, messages: [{ role: "user" as const, content: "one two three four" }] },
      ["one ", "two "],
    ],
    [
      "stopped by a stop sequence",
      { stop_sequences: ["three"], messages: [{ role: "user" as const, content: "one two three four" }] },
      ["one ", "two "],
    ],
  ])(
    "%s: a delta per token when streamed, one delta otherwise, the same Message folded",
    async (_name, body, tokens) => {
      expect(deltas(await events({ ...body, stream: true }))).toEqual(tokens);
      expect(deltas(await events({ ...body, stream: false }))).toEqual([tokens.join("")]);
      const streamed = await foldStream(toAsync(await events({ ...body, stream: true })));
      const whole = await foldStream(toAsync(await events({ ...body, stream: false })));
      expect({ ...whole, id: "msg" }).toEqual({ ...streamed, id: "msg" });
    },
  );

  it("a non-streamed reply left by its client has sent a delta for every token made until then", async () => {
    const words = Array.from({ length: 100 }, (_, i) => `w${i}`).join(" ");
    const abort = new AbortController();
    const seen: string[] = [];
    const run = async () => {
      const body = { max_tokens: 200, messages: [{ role: "user" as const, content: words }] };
      for await (const e of provider.stream(request(body), { signal: abort.signal, requestId: "req_1" })) {
        if (e.type !== "content_block_delta" || e.delta.type !== "text_delta") continue;
        seen.push(e.delta.text);
        // The 63rd token comes just before the reply's first turn of the event loop: leave there.
        if (seen.length === 63) abort.abort();
      }
    };
    await expect(run()).rejects.toThrow();
    expect(seen).toEqual(words.split(/(?<= )/).slice(0, 64));
  });

  it("a non-streamed reply with [[delay]] sends a delta per token, where the client may leave", async () => {
    const body = { messages: [{ role: "user" as const, content: "[[delay:1]] one two three" }] };
    expect(deltas(await events({ ...body, stream: false }))).toEqual(["one ", "two ", "three"]);
  });
});

async function* toAsync<T>(items: T[]): AsyncGenerator<T> {
  for (const i of items) yield i;
}
