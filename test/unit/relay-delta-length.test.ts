import { describe, expect, it } from "vitest";
import { encodeEvent, templateDeltaLength } from "../../src/protocol/index.ts";

/** What the relay counted before: the delta's text, thinking or partial_json, parsed whole. */
function parsedLength(data: string): number | undefined {
  const d = (JSON.parse(data) as { delta?: Record<string, unknown> }).delta ?? {};
  const text = d.text ?? d.thinking ?? d.partial_json;
  return typeof text === "string" ? text.length : undefined;
}

const frame = (index: number, type: string, field: string, value: string) =>
  `{"type":"content_block_delta","index":${index},"delta":{"type":"${type}","${field}":${JSON.stringify(value)}}}`;

describe("templateDeltaLength", () => {
  const TEXTS = [
    "",
    "Hello",
    " world",
    'a "quote"',
    "back\\slash",
    "line\nbreak",
    "été",
    "😀 emoji",
    "\u0000\u001f",
    "</s>",
  ];
  it.each([
    ...TEXTS.map((t) => ({ data: frame(0, "text_delta", "text", t) })),
    ...TEXTS.map((t) => ({ data: frame(12, "thinking_delta", "thinking", t) })),
    ...TEXTS.map((t) => ({ data: frame(3, "input_json_delta", "partial_json", t) })),
  ])("reads $data as JSON.parse does", ({ data }) => {
    expect(templateDeltaLength(data)).toBe(parsedLength(data));
  });

  it("reads every delta frame the SSE writer writes from its template", () => {
    for (const [type, field] of [
      ["text_delta", "text"],
      ["thinking_delta", "thinking"],
      ["input_json_delta", "partial_json"],
    ] as const) {
      for (const t of TEXTS) {
        const frame = encodeEvent({
          type: "content_block_delta",
          index: 7,
          delta: { type, [field]: t } as never,
        });
        const data = frame.split("\ndata: ")[1]?.replace(/\n\n$/, "") as string;
        expect(templateDeltaLength(data)).toBe(t.length);
      }
    }
  });

  it("counts a signature as no output", () => {
    expect(templateDeltaLength(frame(0, "signature_delta", "signature", "EqQBCkYIBxgCKkA"))).toBe(-1);
  });

  it.each([
    {
      name: "keys in another order",
      data: '{"index":0,"type":"content_block_delta","delta":{"type":"text_delta","text":"a"}}',
    },
    {
      name: "spaces",
      data: '{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}}',
    },
    {
      name: "an extra field after the text",
      data: '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","x":1}}',
    },
    {
      name: "an extra field after the delta",
      data: '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"},"x":1}',
    },
    {
      name: "a field that is not the kind's",
      data: '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","thinking":"a"}}',
    },
    {
      name: "an unknown kind",
      data: '{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","text":"a"}}',
    },
    {
      name: "a prototype key as the kind",
      data: '{"type":"content_block_delta","index":0,"delta":{"type":"constructor","text":"a"}}',
    },
    {
      name: "no index digits",
      data: '{"type":"content_block_delta","index":,"delta":{"type":"text_delta","text":"a"}}',
    },
    {
      name: "a raw control character",
      data: '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a\u0001"}}',
    },
    {
      name: "a bad escape",
      data: '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a\\q"}}',
    },
    {
      name: "an unclosed string",
      data: '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a}}',
    },
    { name: "another event", data: '{"type":"message_delta","delta":{"stop_reason":"end_turn"}}' },
  ])("leaves $name to JSON.parse", ({ data }) => {
    expect(templateDeltaLength(data)).toBeUndefined();
  });
});
