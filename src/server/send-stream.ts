import { once } from "node:events";
import type { ServerResponse } from "node:http";
import type { FastifyReply } from "fastify";
import { encodeEvent, SSE_HEADERS, type StreamEvent, toApiError } from "../protocol/index.ts";
import type { UsageTally } from "../service/index.ts";

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
  let lastWrite = performance.now();
  const send = (chunk: string) => {
    lastWrite = performance.now();
    return write(res, chunk);
  };
  const pinger = setInterval(() => {
    if (performance.now() - lastWrite >= opts.pingIntervalMs) void send(PING);
  }, opts.pingIntervalMs / 2);
  let ended = first.done === true;
  try {
    if (!first.done) {
      opts.tally.observe(first.value);
      await send(encodeEvent(first.value));
      if (first.value.type === "message_start") await send(PING);
    }
    while (!first.done && !opts.signal.aborted) {
      const next = await it.next();
      if (next.done) {
        ended = true;
        break;
      }
      opts.tally.observe(next.value);
      if (next.value.type === "message_stop") ended = true;
      await send(encodeEvent(next.value));
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
      await send(encodeEvent({ type: "error", error: { type: e.type, message: e.message } }));
    }
  } finally {
    // The client left before the reply was over: the record says so, and the tally holds what was generated.
    if (opts.signal.aborted && !ended) opts.tally.cutShort = true;
    clearInterval(pinger);
    it.return?.().catch(() => {});
    res.end();
  }
}

/** Writes with backpressure; resolves early if the client is gone. */
async function write(res: ServerResponse, chunk: string): Promise<void> {
  if (res.destroyed) return;
  if (!res.write(chunk)) await Promise.race([once(res, "drain"), once(res, "close")]);
}
