import type { FastifyReply } from "fastify";
import {
  encodeEvent,
  eventsOrBatches,
  isBatch,
  SSE_HEADERS,
  type StreamEvent,
  toApiError,
} from "../protocol/index.ts";
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
  // Batches where the reply comes in them (an upstream read's events): one await a batch.
  const it = eventsOrBatches(events)[Symbol.asyncIterator]();
  let next = await it.next();
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { ...SSE_HEADERS, ...opts.headers });
  const out = new FrameWriter(res);
  const pinger = setInterval(() => {
    if (out.idleFor() >= opts.pingIntervalMs) out.now(PING);
  }, opts.pingIntervalMs / 2);
  let started = false;
  let ended = next.done === true;
  /** Queues one event; true when it was an error, which ends the reply. */
  const send = (event: StreamEvent): boolean => {
    opts.tally.observe(event);
    if (event.type === "message_stop") ended = true;
    // A ping follows message_start, as the hosted API does. Queued like the rest, not written at
    // once: when the upstream's whole reply is in one read, headers and all its events then
    // leave in one write (a write on loopback costs about as much as the rest of the relay).
    out.queue(event.type === "message_start" && !started ? encodeEvent(event) + PING : encodeEvent(event));
    started = true;
    if (event.type !== "error") return false;
    ended = true;
    return true;
  };
  try {
    while (!next.done) {
      const item = next.value;
      if (isBatch(item) ? item.some(send) : send(item)) break;
      if (opts.signal.aborted) break;
      const blocked = out.writable();
      if (blocked) await blocked;
      next = await it.next();
      if (next.done) ended = true;
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
