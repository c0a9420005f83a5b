import { describe, expect, it } from "vitest";
import { quoteJsonString, readJsonString } from "../../src/protocol/index.ts";

describe("readJsonString", () => {
  it.each([
    "",
    "plain",
    ' "quoted" ',
    "back\\slash",
    "line\nbreak\ttab",
    "\u0000\u001f\u007f",
    "été 😀",
    "\u2028\u2029",
    "</script>",
  ])("reads %j as JSON.parse does, inside a larger text", (value) => {
    const literal = JSON.stringify(value);
    const text = `{"a":${literal},"b":1}`;
    expect(readJsonString(text, 5)).toEqual({ value, end: 5 + literal.length });
  });

  it("reads \\u escapes and a lone surrogate's escape as JSON.parse does", () => {
    for (const literal of ['"\\u00e9\\u0041"', '"\\ud83d\\ude00"', '"\\ud800"', '"\\/"']) {
      expect(readJsonString(literal, 0)).toEqual({ value: JSON.parse(literal), end: literal.length });
    }
  });

  it.each([
    { name: "no quote at start", text: "abc", start: 0 },
    { name: "no closing quote", text: '"abc', start: 0 },
    { name: "an escaped closing quote only", text: '"abc\\"', start: 0 },
    { name: "a raw control character", text: '"a\u0001b"', start: 0 },
    { name: "a raw newline", text: '"a\nb"', start: 0 },
    { name: "a bad escape", text: '"a\\qb"', start: 0 },
    { name: "a short \\u escape", text: '"\\u12"', start: 0 },
    { name: "start past the end", text: '"a"', start: 3 },
  ])("refuses $name, as JSON.parse does", ({ text, start }) => {
    expect(readJsonString(text, start)).toBeUndefined();
    expect(() => JSON.parse(text.slice(start))).toThrow();
  });
});

describe("quoteJsonString", () => {
  it.each([
    "",
    "plain",
    " word",
    'a "quote"',
    "back\\slash",
    "line\nbreak\ttab\r\b\f",
    "\u0000\u001f\u007f\u0080",
    "été 世界 😀",
    "\u2028\u2029",
    "\ud800",
    "x\udfff",
    "\udbff\udfff",
    "</script>",
    "z".repeat(64),
    `${"z".repeat(64)}\n`,
    `${"z".repeat(200)}`,
  ])("writes %j as JSON.stringify does", (value) => {
    expect(quoteJsonString(value)).toBe(JSON.stringify(value));
  });

  it("writes random short strings as JSON.stringify does", () => {
    // Char codes drawn mostly from the edges the fast path decides on.
    const edges = [
      0, 0x1f, 0x20, 0x21, 0x22, 0x5b, 0x5c, 0x5d, 0x7e, 0x7f, 0xff, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff,
      0xe000, 0xfffd,
    ];
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 5000; i++) {
      const length = random(70);
      let text = "";
      for (let j = 0; j < length; j++) {
        text += String.fromCharCode(
          random(4) === 0 ? (edges[random(edges.length)] as number) : 0x20 + random(95),
        );
      }
      expect(quoteJsonString(text)).toBe(JSON.stringify(text));
    }
  });
});
