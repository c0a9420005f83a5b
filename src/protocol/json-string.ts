/** A JSON string literal read out of a larger text. */
export interface JsonString {
  /** Its value, unescaped. */
  value: string;
  /** The index just past its closing quote. */
  end: number;
}

/**
 * The JSON string literal whose opening quote is at `start`, read without parsing what is around
 * it: what the upstream readers use to take the one varying string out of a frame whose layout
 * they know. A literal without escapes is sliced; one with escapes goes to JSON.parse. Undefined
 * where JSON.parse would refuse the literal: no quote at `start`, no closing quote, a raw control
 * character or a bad escape.
 */
export function readJsonString(text: string, start: number): JsonString | undefined {
  if (text.charCodeAt(start) !== 0x22) return undefined;
  let escaped = false;
  let i = start + 1;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) break;
    if (c < 0x20) return undefined;
    if (c === 0x5c) {
      escaped = true;
      i++;
    }
  }
  if (i >= text.length) return undefined;
  const end = i + 1;
  if (!escaped) return { value: text.slice(start + 1, i), end };
  try {
    return { value: JSON.parse(text.slice(start, end)) as string, end };
  } catch {
    return undefined;
  }
}

/** Above this length JSON.stringify's own scan beats a loop over char codes. */
const SHORT_STRING = 64;

/**
 * `JSON.stringify(text)`, the same bytes. A short string that needs no escape (no quote,
 * backslash, control character or surrogate) is quoted as it is: a streamed token is a few
 * characters, and a call of JSON.stringify costs several times the scan (about 55 against 20 ns
 * for a token). Anything else is left to JSON.stringify.
 */
export function quoteJsonString(text: string): string {
  if (text.length > SHORT_STRING) return JSON.stringify(text);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(text);
  }
  return `"${text}"`;
}
