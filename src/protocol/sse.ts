import { quoteJsonString, readJsonString } from "./json-string.ts";
import type { StreamEvent } from "./schema/index.ts";

/** One SSE frame: the `event:` line names the event, as every Anthropic client requires. */
export function encodeEvent(event: StreamEvent): string {
  return templateFrame(event) ?? `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** The frame from a template when the event has a template's exact shape; undefined otherwise. */
function templateFrame(event: StreamEvent): string | undefined {
  switch (event.type) {
    case "content_block_delta":
      return encodeDelta(event);
    case "content_block_stop":
      return encodeBlockStop(event);
    case "message_stop":
      return keysAre(event, "type") ? MESSAGE_STOP : undefined;
    default:
      return undefined;
  }
}

const MESSAGE_STOP = 'event: message_stop\ndata: {"type":"message_stop"}\n\n';

/** `{type, index}` exactly, as every block of a reply ends: from a template, like the deltas. */
function encodeBlockStop(event: Extract<StreamEvent, { type: "content_block_stop" }>): string | undefined {
  if (!Number.isInteger(event.index) || !keysAre(event, "type", "index")) return undefined;
  return `event: content_block_stop\ndata: {"type":"content_block_stop","index":${event.index}}\n\n`;
}

/** The one text field of each delta kind that has a single one. */
const DELTA_FIELDS = new Map<unknown, string>([
  ["text_delta", "text"],
  ["thinking_delta", "thinking"],
  ["input_json_delta", "partial_json"],
  ["signature_delta", "signature"],
]);

/** Each kind's text field as the template writes it after the kind: built once, not per frame read. */
const DELTA_KEYS = new Map([...DELTA_FIELDS].map(([kind, field]) => [kind, `","${field}":`]));

/** The data of a template delta frame, up to its index. */
const DELTA_HEAD = '{"type":"content_block_delta","index":';
const DELTA_TYPE = ',"delta":{"type":"';

type DeltaEvent = Extract<StreamEvent, { type: "content_block_delta" }>;

/**
 * Most frames of a reply are deltas, and most deltas are `{type, index, delta: {type, <text>}}`
 * exactly: those are written from a template, stringifying only the text (about a third of the
 * time of stringifying the whole event). Anything else, an extra or reordered key included, is
 * left to JSON.stringify, so the bytes are always the same as its.
 */
function encodeDelta(event: DeltaEvent): string | undefined {
  const delta = event.delta as unknown as Record<string, unknown> | null | undefined;
  if (typeof delta !== "object" || delta === null) return undefined;
  const field = DELTA_FIELDS.get(delta.type);
  if (field === undefined || !Number.isInteger(event.index)) return undefined;
  const text = delta[field];
  if (typeof text !== "string") return undefined;
  if (!keysAre(event, "type", "index", "delta") || !keysAre(delta, "type", field)) return undefined;
  return `event: content_block_delta\ndata: ${DELTA_HEAD}${event.index}${DELTA_TYPE}${delta.type}","${field}":${quoteJsonString(text)}}}\n\n`;
}

/**
 * True when the object's enumerable keys are exactly these, in this order (the order JSON
 * writes them in). One to three fixed names, not an array: this runs for every delta.
 */
function keysAre(o: object, a: string, b?: string, c?: string): boolean {
  let i = 0;
  for (const k in o) {
    if (k !== (i === 0 ? a : i === 1 ? b : c)) return false;
    i++;
  }
  return i === (b === undefined ? 1 : c === undefined ? 2 : 3);
}

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
  "x-accel-buffering": "no",
} as const;

/**
 * The length of a delta's text when a frame's data is exactly the template above,
 * `{"type":"content_block_delta","index":N,"delta":{"type":K,"<field>":"…"}}` (the API's own
 * layout), read without parsing the frame; -1 for a signature, which is no output. Undefined for
 * anything else, which the caller parses whole. The Anthropic relay measures relayed deltas with
 * it: JSON.parse of each only to estimate the tokens of a reply cut short was the one per-frame
 * parse left on the relay path.
 */
export function templateDeltaLength(data: string): number | undefined {
  if (data.slice(0, DELTA_HEAD.length) !== DELTA_HEAD) return undefined;
  let i = DELTA_HEAD.length;
  const digits = i;
  while (isDigit(data.charCodeAt(i))) i++;
  if (i === digits || data.slice(i, i + DELTA_TYPE.length) !== DELTA_TYPE) return undefined;
  i += DELTA_TYPE.length;
  const typeEnd = data.indexOf('"', i);
  if (typeEnd < 0) return undefined;
  const kind = data.slice(i, typeEnd);
  const key = DELTA_KEYS.get(kind);
  if (key === undefined || data.slice(typeEnd, typeEnd + key.length) !== key) return undefined;
  const literal = readJsonString(data, typeEnd + key.length);
  // The string must close the delta and the frame: `"}}` and nothing after.
  if (literal === undefined || literal.end !== data.length - 2 || data.slice(literal.end) !== "}}")
    return undefined;
  return kind === "signature_delta" ? -1 : literal.value.length;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
