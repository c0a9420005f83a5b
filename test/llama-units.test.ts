import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type MessageCreateParams, ThinkingSigner, toMessageRequest } from "../src/protocol/index.ts";
import { dropClaudeCodeBilling } from "../src/providers/llama/billing.ts";
import { CacheEdits } from "../src/providers/llama/cache-edits.ts";
import { toChatHistory } from "../src/providers/llama/history.ts";
import { toGrammarSchema } from "../src/providers/llama/json-schema.ts";
import { locateModelFile } from "../src/providers/llama/model-file.ts";
import { ThinkTagSplitter } from "../src/providers/llama/think-tags.ts";

const ctx = { apiVersion: "2023-06-01" as const, rawApiVersion: "2023-06-01", betas: [] };
const request = (p: Partial<MessageCreateParams>) =>
  toMessageRequest({ model: "m", max_tokens: 10, messages: [{ role: "user", content: "hi" }], ...p }, ctx);

describe("ThinkTagSplitter", () => {
  const split = (chunks: string[]) => {
    const s = new ThinkTagSplitter();
    const pieces = [...chunks.flatMap((c) => s.push(c)), ...s.flush()];
    const join = (k: string) =>
      pieces
        .filter((p) => p.kind === k)
        .map((p) => p.text)
        .join("");
    return { thinking: join("thinking"), text: join("text") };
  };
  it.each([
    [["<think>plan</think>answer"], "plan", "answer"],
    [["<thi", "nk>\nplan it", "\n</th", "ink>\n\nanswer"], "plan it", "answer"],
    [["  <think>a</think>b"], "a", "b"],
    [["no tags at all"], "", "no tags at all"],
    [["text first <think>x</think>"], "", "text first <think>x</think>"],
    [["<think>never closed"], "never closed", ""],
    [["<th"], "", "<th"],
  ])("%j → thinking %j, text %j", (chunks, thinking, text) => {
    expect(split(chunks)).toEqual({ thinking, text });
  });
});

describe("toGrammarSchema", () => {
  it.each([
    [
      {
        type: "object",
        properties: { a: { type: "string", pattern: "^x", minLength: 2 } },
        required: ["a", "zz"],
      },
      {
        type: "object",
        properties: { a: { type: "string", minLength: 2 } },
        required: ["a"],
        additionalProperties: false,
      },
    ],
    [{ anyOf: [{ type: "string" }, { type: "null" }] }, { oneOf: [{ type: "string" }, { type: "null" }] }],
    [
      { type: ["string", "null"], description: "d" },
      { type: ["string", "null"], description: "d" },
    ],
    [{ enum: ["a", 1] }, { enum: ["a", 1] }],
    [{ type: "integer", minimum: 3 }, { type: "integer" }],
    [
      { type: "string", format: "date" },
      { type: "string", format: "date" },
    ],
    [
      { type: "array", items: { type: "number" }, maxItems: 3 },
      { type: "array", items: { type: "number" }, maxItems: 3 },
    ],
    [{ $ref: "#/definitions/x" }, { $ref: "#/$defs/x" }],
  ])("%j", (input, expected) => {
    expect(toGrammarSchema(input)).toEqual(expected);
  });

  it("turns an unconstrained schema into any JSON value, with finite nesting", () => {
    const any = toGrammarSchema({}) as { oneOf: unknown[] };
    expect(any.oneOf).toHaveLength(3);
    expect(JSON.stringify(any).length).toBeLessThan(5000);
  });
});

describe("toChatHistory", () => {
  it("puts tool results on their calls, keeps mid-conversation system turns and continues a prefill", () => {
    const history = toChatHistory(
      request({
        system: "sys",
        messages: [
          { role: "user", content: "weather?" },
          {
            role: "assistant",
            content: [
              { type: "text", text: "Checking." },
              { type: "tool_use", id: "toolu_1", name: "w", input: { city: "Oslo" } },
            ],
          },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "sunny" }] },
          { role: "assistant", content: "It is sunny." },
          { role: "system", content: "Be brief." },
          { role: "user", content: "thanks" },
          { role: "assistant", content: "You are" },
        ],
      }),
    );
    expect(history).toEqual([
      { type: "system", text: "sys" },
      { type: "user", text: "weather?" },
      {
        type: "model",
        response: [
          "Checking.",
          { type: "functionCall", name: "w", params: { city: "Oslo" }, result: "sunny" },
          "It is sunny.",
        ],
      },
      { type: "system", text: "Be brief." },
      { type: "user", text: "thanks" },
      { type: "model", response: ["You are"] },
    ]);
  });

  it("ends with an empty model turn to generate into", () => {
    expect(toChatHistory(request({})).at(-1)).toEqual({ type: "model", response: [] });
  });
});

describe("dropClaudeCodeBilling", () => {
  it("drops only a leading billing block", () => {
    const billing = "x-anthropic-billing-header: cc_version=2.1.197.c79; cc_entrypoint=sdk-cli; cch=ab12;";
    const req = request({
      system: [
        { type: "text", text: billing },
        { type: "text", text: "You are Claude Code." },
      ],
    });
    expect(dropClaudeCodeBilling(req).system).toEqual([{ type: "text", text: "You are Claude Code." }]);
    const plain = request({ system: "You are Claude Code." });
    expect(dropClaudeCodeBilling(plain)).toBe(plain);
  });
});

describe("ThinkingSigner", () => {
  it("verifies its own signatures across instances sharing a data dir and rejects tampering", async () => {
    const dir = await mkdtemp(join(tmpdir(), "parley-sig-"));
    const a = await ThinkingSigner.fromDataDir(dir);
    const b = await ThinkingSigner.fromDataDir(dir);
    const sig = a.sign("step one");
    expect(b.verify("step one", sig)).toBe(true);
    expect(b.verify("step two", sig)).toBe(false);
    expect(b.verify("step one", `${sig.slice(0, -2)}AA`)).toBe(false);
    const other = await ThinkingSigner.fromDataDir(await mkdtemp(join(tmpdir(), "parley-sig-")));
    expect(other.verify("step one", sig)).toBe(false);
  });
});

describe("locateModelFile", () => {
  it("searches PARLEY_MODELS_DIR first, by path and by file name, for local and hf: paths", async () => {
    const models = join(import.meta.dirname, "../../shared/models");
    const cache = await mkdtemp(join(tmpdir(), "parley-models-"));
    const opts = { cacheDir: cache, modelsDir: models, download: false };
    expect(await locateModelFile({ ...opts, path: "stories260K.gguf" })).toBe(
      join(models, "stories260K.gguf"),
    );
    expect(await locateModelFile({ ...opts, path: "hf:someone/repo/stories260K.gguf" })).toBe(
      join(models, "stories260K.gguf"),
    );
    await expect(locateModelFile({ ...opts, path: "./nope.gguf" })).rejects.toThrow(
      /Model file not found: \.\/nope\.gguf/,
    );
    await expect(locateModelFile({ ...opts, path: "hf:someone/repo/nope.gguf" })).rejects.toThrow(
      /Cannot get hf:someone\/repo\/nope\.gguf/,
    );
  });
});

describe("toGrammarSchema bounds", () => {
  it("a minimum larger than a grammar can spell out is a 400 naming the tool; a huge maximum is left out", () => {
    expect(() =>
      toGrammarSchema(
        { type: "object", properties: { l: { type: "array", minItems: 100_000 } } },
        "tools[name=f].input_schema",
      ),
    ).toThrow(
      expect.objectContaining({
        status: 400,
        type: "invalid_request_error",
        message:
          "tools[name=f].input_schema: minItems: 100000 is more than a grammar for the local model can enforce (at most 1000)",
      }),
    );
    expect(toGrammarSchema({ type: "string", minLength: 2, maxLength: 1_000_000 })).toEqual({
      type: "string",
      minLength: 2,
    });
  });
});

describe("CacheEdits", () => {
  /** A decode or an edit the test settles by hand, recording when it started. */
  const manual = (log: string[], name: string) => {
    let settle = () => {};
    const run = () => {
      log.push(name);
      return new Promise<void>((resolve) => {
        settle = resolve;
      });
    };
    return { run, settle: () => settle() };
  };
  const turn = () => new Promise((r) => setImmediate(r));
  /** Sequence 3 waiting to erase its cache, until `erase.settle()`. */
  const erasing = () => {
    const edits = new CacheEdits();
    const log: string[] = [];
    const erase = manual(log, "erase 3");
    return { edits, log, erase, edited: edits.edit(3, erase.run) };
  };

  it("runs decodes at once while no sequence waits to edit its cache", async () => {
    const edits = new CacheEdits();
    const log: string[] = [];
    await Promise.all([
      edits.decode(1, 1, async () => log.push("a")),
      edits.decode(2, 1, async () => log.push("b")),
    ]);
    expect(log).toEqual(["a", "b"]);
  });

  it("holds other sequences' decodes while one waits to edit, then queues them together", async () => {
    const { edits, log, erase, edited } = erasing();
    const held = [
      edits.decode(1, 1, async () => log.push("step 1")),
      edits.decode(2, 1, async () => log.push("step 2")),
    ];
    await turn();
    expect(log).toEqual(["erase 3"]);
    erase.settle();
    await edited;
    await Promise.all(held);
    expect(log).toEqual(["erase 3", "step 1", "step 2"]);
  });

  it("lets the editing sequence's own decodes through, and its first one releases the others", async () => {
    const { edits, log, erase, edited } = erasing();
    const other = edits.decode(1, 1, async () => log.push("step 1"));
    await turn();
    expect(log).toEqual(["erase 3"]);
    // The erase re-evaluates tokens (outside the lock): that decode must not wait for itself.
    await edits.decode(3, 1, async () => log.push("re-evaluate 3"));
    await other;
    expect(log).toEqual(["erase 3", "step 1", "re-evaluate 3"]);
    erase.settle();
    await edited;
  });

  it("waits for every edit in progress, and a failed edit still releases the decodes", async () => {
    const { edits, log, erase: first, edited: one } = erasing();
    const two = edits.edit(4, async () => {
      log.push("erase 4");
      throw new Error("cannot erase");
    });
    const held = edits.decode(1, 1, async () => log.push("step 1"));
    await expect(two).rejects.toThrow("cannot erase");
    await turn();
    expect(log).toEqual(["erase 3", "erase 4"]);
    first.settle();
    await one;
    await held;
    expect(log).toEqual(["erase 3", "erase 4", "step 1"]);
  });

  it("holds nothing while a prompt is decoded: the loop keeps the lock until it is read anyway", async () => {
    const { edits, log, erase, edited } = erasing();
    const before = edits.decode(1, 1, async () => log.push("step 1"));
    await turn();
    expect(log).toEqual(["erase 3"]);
    const prompt = manual(log, "prompt 4");
    const reading = edits.decode(4, 2000, prompt.run);
    await before;
    await edits.decode(2, 1, async () => log.push("step 2"));
    expect(log).toEqual(["erase 3", "step 1", "prompt 4", "step 2"]);
    prompt.settle();
    await reading;
    // The prompt is read: holding resumes until the edit is through.
    const after = edits.decode(1, 1, async () => log.push("step 1 again"));
    await turn();
    expect(log).toHaveLength(4);
    erase.settle();
    await edited;
    await after;
    expect(log.at(-1)).toBe("step 1 again");
  });
});
