import { describe, expect, it } from "vitest";
import { encodeEvent, type StreamEvent } from "../../src/protocol/index.ts";

/** What every frame must equal: the event's name line and the event as JSON.stringify writes it. */
const plain = (e: unknown) => `event: ${(e as { type: string }).type}\ndata: ${JSON.stringify(e)}\n\n`;

const delta = (index: unknown, d: Record<string, unknown>) => ({
  type: "content_block_delta",
  index,
  delta: d,
});

describe("encodeEvent", () => {
  it.each([
    ["text", delta(0, { type: "text_delta", text: " word" })],
    ["empty text", delta(3, { type: "text_delta", text: "" })],
    [
      "quotes, backslashes, control characters",
      delta(1, { type: "text_delta", text: 'a"b\\c\n\t\u0001\u2028' }),
    ],
    ["non-ASCII and a lone surrogate", delta(2, { type: "text_delta", text: "héllo 世界 🎉 \ud800" })],
    ["thinking", delta(0, { type: "thinking_delta", thinking: "hmm" })],
    ["tool input", delta(4, { type: "input_json_delta", partial_json: '{"city": "Pa' })],
    ["signature", delta(0, { type: "signature_delta", signature: "c2ln" })],
    ["a large index", delta(123456, { type: "text_delta", text: "x" })],
    ["negative zero index", delta(-0, { type: "text_delta", text: "x" })],
    ["a fractional index", delta(1.5, { type: "text_delta", text: "x" })],
    ["a string index", delta("1", { type: "text_delta", text: "x" })],
    ["an extra delta key", delta(0, { type: "text_delta", text: "x", citations: null })],
    ["reordered delta keys", delta(0, { text: "x", type: "text_delta" })],
    ["an undefined extra key", delta(0, { type: "text_delta", text: "x", extra: undefined })],
    ["a non-string text", delta(0, { type: "text_delta", text: 5 })],
    ["a missing text", delta(0, { type: "text_delta" })],
    ["the wrong field for its type", delta(0, { type: "thinking_delta", text: "x" })],
    ["a citations delta", delta(0, { type: "citations_delta", citation: { type: "char_location" } })],
    ["an inherited type name", delta(0, { type: "constructor", text: "x" })],
    ["an extra event key", { ...delta(0, { type: "text_delta", text: "x" }), usage: {} }],
    [
      "reordered event keys",
      { index: 0, type: "content_block_delta", delta: { type: "text_delta", text: "x" } },
    ],
    ["no delta", { type: "content_block_delta", index: 0 }],
    ["a null delta", { type: "content_block_delta", index: 0, delta: null }],
    ["message_start", { type: "message_start", message: { id: "msg_1", content: [] } }],
    ["ping", { type: "ping" }],
    ["message_stop", { type: "message_stop" }],
    ["message_stop with an extra key", { type: "message_stop", amazon_bedrock_invocation_metrics: {} }],
    ["content_block_stop", { type: "content_block_stop", index: 0 }],
    ["content_block_stop, a large index", { type: "content_block_stop", index: 40 }],
    ["content_block_stop, negative zero", { type: "content_block_stop", index: -0 }],
    ["content_block_stop, a string index", { type: "content_block_stop", index: "2" }],
    ["content_block_stop, a fractional index", { type: "content_block_stop", index: 0.5 }],
    ["content_block_stop, reordered keys", { index: 1, type: "content_block_stop" }],
    ["content_block_stop, an extra key", { type: "content_block_stop", index: 1, extra: 1 }],
    ["content_block_stop, no index", { type: "content_block_stop" }],
    ["a 64-character text", delta(0, { type: "text_delta", text: "y".repeat(64) })],
    ["a 65-character text with a quote", delta(0, { type: "text_delta", text: `${"y".repeat(64)}"` })],
    ["DEL and U+2029", delta(0, { type: "text_delta", text: "\u007f\u2029" })],
    ["a surrogate pair", delta(0, { type: "text_delta", text: "\ud83c\udf89" })],
    ["a lone low surrogate", delta(0, { type: "text_delta", text: "a\udc00" })],
  ])("%s: the same bytes as JSON.stringify", (_name, event) => {
    expect(encodeEvent(event as StreamEvent)).toBe(plain(event));
  });

  it("parses back to the event", () => {
    const event = delta(7, { type: "text_delta", text: 'say "hi"\n' });
    const frame = encodeEvent(event as StreamEvent);
    expect(frame.startsWith("event: content_block_delta\ndata: ")).toBe(true);
    expect(JSON.parse(frame.slice("event: content_block_delta\ndata: ".length))).toEqual(event);
  });
});
