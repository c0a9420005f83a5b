import type { Token, Tokenizer } from "node-llama-cpp";

/** Texts shorter than this are tokenized again: cheaper than remembering them. */
const MIN_CHARS = 256;

/** Remembered text per model, in characters (keys and their tokens take a few times this in bytes). */
const MAX_CHARS = 4_000_000;

/**
 * The model's tokenizer with a memory, for rendering prompts. Tokenizing is a synchronous native
 * call on the event loop, about 1 ms per 1,000 tokens on 2 cores, and a conversation sends the
 * same earlier messages every turn. Most chat templates put special tokens between messages, so
 * node-llama-cpp tokenizes each message's text in a call of its own, and a later turn only pays
 * for what is new. The tokens are the tokenizer's own: the same arguments give the same tokens.
 * The least recently used texts go first once `maxChars` are remembered.
 */
export function memoizedTokenizer(tokenizer: Tokenizer, maxChars = MAX_CHARS): Tokenizer {
  const memo = new Map<string, readonly Token[]>();
  let chars = 0;
  const tokenize = (text: string, specialTokens?: boolean | "builtin", options?: "trimLeadingSpace") => {
    if (text.length < MIN_CHARS || specialTokens === "builtin")
      return (tokenizer as (...args: unknown[]) => Token[])(text, specialTokens, options);
    const key = `${specialTokens === true ? 1 : 0}${options === "trimLeadingSpace" ? 1 : 0}${text}`;
    const known = memo.get(key);
    if (known) {
      memo.delete(key);
      memo.set(key, known);
      return known.slice();
    }
    const tokens = tokenizer(text, specialTokens, options);
    if (key.length > maxChars) return tokens;
    memo.set(key, tokens.slice());
    chars += key.length;
    for (const oldest of memo.keys()) {
      if (chars <= maxChars) break;
      memo.delete(oldest);
      chars -= oldest.length;
    }
    return tokens;
  };
  return Object.assign(tokenize, {
    detokenize: tokenizer.detokenize,
    isSpecialToken: (token: Token) => tokenizer.isSpecialToken(token),
    isEogToken: (token: Token) => tokenizer.isEogToken(token),
  }) as Tokenizer;
}

/**
 * LlamaChat tokenizes the whole context through `model.tokenizer` too, several times per reply
 * (fitting the context window, then evaluating): the remembering tokenizer serves it as well when
 * the field can be set (a public, writable field in node-llama-cpp 3). The tokens are the same
 * either way; should the field become read-only, only Parley's own rendering remembers.
 */
export function shareMemoizedTokenizer(model: { tokenizer: Tokenizer }): Tokenizer {
  const tokenizer = memoizedTokenizer(model.tokenizer);
  try {
    model.tokenizer = tokenizer;
  } catch {
    // read-only in some future version: nothing shared
  }
  return tokenizer;
}
