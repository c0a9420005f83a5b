import { describe, expect, it } from "vitest";
import { readJsonString } from "../../src/protocol/index.ts";

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
