/**
 * The llama backend's remembering tokenizer: the same tokens as the model's own, each long text
 * tokenized once, a bounded memory, and a real chat template giving identical prompts with it.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { getLlama, resolveChatWrapper, type Token, type Tokenizer } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { type RequestContext, toMessageRequest } from "../../src/protocol/index.ts";
import { renderPrompt } from "../../src/providers/llama/prompt.ts";
import { memoizedTokenizer, shareMemoizedTokenizer } from "../../src/providers/llama/tokenizer-memo.ts";

/** A stand-in tokenizer: one token per character code (plus marks for the flags), counting its calls. */
function countingTokenizer() {
  const calls: string[] = [];
  const tokenize = (text: string, specialTokens?: boolean, options?: "trimLeadingSpace") => {
    calls.push(text);
    const marks = [specialTokens ? 1 : 0, options === "trimLeadingSpace" ? 1 : 0];
    return [...marks, ...[...text].map((c) => c.charCodeAt(0))] as Token[];
  };
  const tokenizer = Object.assign(tokenize, {
    detokenize: (tokens: readonly Token[]) => tokens.map((t) => String.fromCharCode(t)).join(""),
    isSpecialToken: (t: Token) => t === 1,
    isEogToken: (t: Token) => t === 2,
  }) as unknown as Tokenizer;
  return { tokenizer, calls };
}

const long = (c: string) => c.repeat(300);

describe("memoizedTokenizer", () => {
  it.each([
    ["a long text twice is tokenized once", [[long("a")], [long("a")]], 1],
    ["a short text is tokenized every time", [["short"], ["short"]], 2],
    [
      "special-token parsing is part of the key",
      [
        [long("a"), false],
        [long("a"), true],
      ],
      2,
    ],
    [
      "the leading-space option is part of the key",
      [
        [long("a"), false],
        [long("a"), false, "trimLeadingSpace"],
      ],
      2,
    ],
    ["two texts, then both again", [[long("a")], [long("b")], [long("a")], [long("b")]], 2],
  ] as const)("%s", (_name, inputs, expectedCalls) => {
    const raw = countingTokenizer();
    const plain = countingTokenizer();
    const memo = memoizedTokenizer(raw.tokenizer);
    for (const args of inputs) {
      const [text, special, options] = args as unknown as [string, boolean?, "trimLeadingSpace"?];
      expect(memo(text, special, options)).toEqual(plain.tokenizer(text, special, options));
    }
    expect(raw.calls).toHaveLength(expectedCalls);
  });

  it("hands out copies: changing a result does not change what it remembers", () => {
    const memo = memoizedTokenizer(countingTokenizer().tokenizer);
    const first = memo(long("a"));
    first.length = 0;
    expect(memo(long("a"))).toHaveLength(302);
  });

  it("forgets the least recently used text once its memory is full", () => {
    const raw = countingTokenizer();
    // Room for two 300-character texts (each key is the text plus two flag characters).
    const memo = memoizedTokenizer(raw.tokenizer, 700);
    memo(long("a"));
    memo(long("b"));
    memo(long("a")); // a is now the most recently used
    memo(long("c")); // evicts b
    expect(raw.calls).toHaveLength(3);
    memo(long("a"));
    memo(long("c"));
    expect(raw.calls).toHaveLength(3);
    memo(long("b"));
    expect(raw.calls).toHaveLength(4);
  });

  it("is shared with the model, so node-llama-cpp's own tokenizing remembers too", () => {
    const raw = countingTokenizer();
    const model = { tokenizer: raw.tokenizer };
    const shared = shareMemoizedTokenizer(model);
    expect(model.tokenizer).toBe(shared);
    model.tokenizer(long("a"));
    shared(long("a"));
    expect(raw.calls).toHaveLength(1);
  });

  it("passes the tokenizer's other methods through", () => {
    const memo = memoizedTokenizer(countingTokenizer().tokenizer);
    expect(memo.detokenize([104, 105] as Token[])).toBe("hi");
    expect(memo.isSpecialToken(1 as Token)).toBe(true);
    expect(memo.isEogToken(2 as Token)).toBe(true);
  });
});

const MODELS_DIR = process.env.PARLEY_MODELS_DIR ?? join(import.meta.dirname, "../../../shared/models");
const TINY = join(MODELS_DIR, "llama-2-tiny-random.gguf");
const present = existsSync(TINY);
if (!present)
  console.warn(`tokenizer memo: real-template case skipped, ${TINY} not found (set PARLEY_MODELS_DIR)`);

describe.skipIf(!present)("a growing conversation rendered with the model's template", () => {
  it("gives the same tokens with the remembering tokenizer, turn after turn", async () => {
    const llama = await getLlama({ build: "never", gpu: false });
    const model = await llama.loadModel({ modelPath: TINY });
    try {
      const wrapper = resolveChatWrapper(model);
      const memo = memoizedTokenizer(model.tokenizer);
      const context: RequestContext = { apiVersion: "2023-06-01", rawApiVersion: "2023-06-01", betas: [] };
      const paragraph = (k: number) =>
        Array.from({ length: 120 }, (_, i) => `word${(i * k) % 37} ünï ${i % 5 ? "," : "."}`).join(" ");
      const messages: { role: "user" | "assistant"; content: string }[] = [];
      for (let turn = 0; turn < 6; turn++) {
        messages.push({ role: "user", content: paragraph(turn) });
        const req = toMessageRequest(
          { model: "tiny", max_tokens: 8, system: `You are terse. ${paragraph(99)}`, messages },
          context,
        );
        const plain = renderPrompt(req, wrapper, model.tokenizer).tokens;
        expect(renderPrompt(req, wrapper, memo).tokens).toEqual(plain);
        messages.push({ role: "assistant", content: paragraph(turn + 50) });
      }
    } finally {
      await model.dispose();
    }
  });
});
