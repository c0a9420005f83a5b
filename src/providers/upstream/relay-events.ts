import {
  deltaTokens,
  encodeEvent,
  foldStream,
  type MessageRequest,
  SSE_HEADERS,
  type StreamEvent,
  toApiError,
} from "../../protocol/index.ts";
import type { RelayedReply } from "../provider.ts";

type RelayedUsage = Awaited<RelayedReply["usage"]>;

/**
 * A reply built from stream events, shaped like a relayed one: for a relaying model whose
 * fallback does not relay. Errors before the first event still throw (HTTP errors).
 */
export async function relayFromEvents(
  events: AsyncIterable<StreamEvent>,
  req: MessageRequest,
): Promise<RelayedReply> {
  if (!req.stream) {
    const message = await foldStream(events);
    const { input_tokens, output_tokens, cache_read_input_tokens } = message.usage;
    return {
      status: 200,
      headers: { "content-type": "application/json" },
      body: once(Buffer.from(JSON.stringify(message))),
      usage: Promise.resolve({
        input_tokens,
        output_tokens,
        cache_read_input_tokens: cache_read_input_tokens ?? 0,
      }),
    };
  }
  const it = events[Symbol.asyncIterator]();
  const first = await it.next();
  let settle: (u: RelayedUsage) => void = () => {};
  const usage = new Promise<RelayedUsage>((r) => {
    settle = r;
  });
  return { status: 200, headers: { ...SSE_HEADERS }, body: encode(first, it, settle), usage };
}

async function* once(chunk: Uint8Array): AsyncGenerator<Uint8Array> {
  yield chunk;
}

async function* encode(
  first: IteratorResult<StreamEvent>,
  it: AsyncIterator<StreamEvent>,
  settle: (u: RelayedUsage) => void,
): AsyncGenerator<Uint8Array> {
  const usage: NonNullable<RelayedUsage> = { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0 };
  let generated = 0;
  let final = false;
  let clientLeft = false;
  try {
    for (let next = first; !next.done; next = await it.next()) {
      const e = next.value;
      if (e.type === "message_start") Object.assign(usage, pickUsage(e.message.usage));
      if (e.type === "message_delta") {
        Object.assign(usage, pickUsage(e.usage));
        final = true;
      }
      if (e.type === "content_block_delta") generated += deltaTokens(e.delta);
      yield Buffer.from(encodeEvent(e));
    }
  } catch (err) {
    const e = toApiError(err);
    clientLeft = e.status === 499 || (err as Error).name === "AbortError";
    if (!clientLeft)
      yield Buffer.from(encodeEvent({ type: "error", error: { type: e.type, message: e.message } }));
  } finally {
    await it.return?.();
    // Ended before the final usage (client gone, error): charge what was generated until then.
    if (!final) usage.output_tokens = Math.max(usage.output_tokens, generated);
    if (clientLeft) usage.cut_short = true;
    settle(usage);
  }
}

function pickUsage(u: object): Partial<NonNullable<RelayedUsage>> {
  const out: Record<string, number> = {};
  for (const k of ["input_tokens", "output_tokens", "cache_read_input_tokens"]) {
    const v = (u as Record<string, unknown>)[k];
    if (typeof v === "number") out[k] = v;
  }
  return out;
}
