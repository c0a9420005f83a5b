import type { FastifyReply } from "fastify";
import { encodeEvent, SSE_HEADERS, type StreamEvent, toApiError } from "../protocol/index.ts";
import type { UsageTally } from "../service/index.ts";
import { FrameWriter } from "./frame-writer.ts";

export interface StreamReplyOptions {
  headers: Record<string, string>;
  pingIntervalMs: number;
  signal: AbortSignal;
  tally: UsageTally;
  onError: (err: unknown) => void;
}

const PING = encodeEvent({ type: "ping" });

/**
 * Sends the events as SSE. The status line waits for the first event, so a failure before it
 * (queue full, upstream down) is still a proper HTTP error; later failures become an `error`
 * event. Pings keep idle connections alive while the model is busy.
 */
export async function sendStream(
  reply: FastifyReply,
  events: AsyncIterable<StreamEvent>,
  opts: StreamReplyOptions,
): Promise<void> {
  const it = events[Symbol.asyncIterator]();
  const first = await it.next();
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { ...SSE_HEADERS, ...opts.headers });
  const out = new FrameWriter(res);
  const pinger = setInterval(() => {
    if (out.idleFor() >= opts.pingIntervalMs) out.now(PING);
  }, opts.pingIntervalMs / 2);
  let ended = first.done === true;
  try {
    if (!first.done) {
      opts.tally.observe(first.value);
      // A ping follows message_start, as the hosted API does. Queued like the rest, not written at
      // once: when the upstream's whole reply is in one read, headers and all its events then
      // leave in one write (a write on loopback costs about as much as the rest of the relay).
      out.queue(
        first.value.type === "message_start" ? encodeEvent(first.value) + PING : encodeEvent(first.value),
      );
    }
    while (!first.done && !opts.signal.aborted) {
      const blocked = out.writable();
      if (blocked) await blocked;
      const next = await it.next();
      if (next.done) {
        ended = true;
        break;
      }
      opts.tally.observe(next.value);
      if (next.value.type === "message_stop") ended = true;
      out.queue(encodeEvent(next.value));
      if (next.value.type === "error") {
        ended = true;
        break;
      }
    }
  } catch (err) {
    if (!opts.signal.aborted) {
      opts.onError(err);
      const e = toApiError(err);
      opts.tally.errorType = e.type;
      out.queue(encodeEvent({ type: "error", error: { type: e.type, message: e.message } }));
    }
  } finally {
    // The client left before the reply was over: the record says so, and the tally holds what was generated.
    if (opts.signal.aborted && !ended) opts.tally.cutShort = true;
    clearInterval(pinger);
    it.return?.().catch(() => {});
    out.end();
  }
}
