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
  const out = new EventWriter(res);
  const pinger = setInterval(() => {
    if (out.idleFor() >= opts.pingIntervalMs) out.now(PING);
  }, opts.pingIntervalMs / 2);
  let ended = first.done === true;
  try {
    if (!first.done) {
      opts.tally.observe(first.value);
      // The first event goes out at once (with a ping after message_start), as the hosted API does.
      out.now(
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

/** Above this many queued characters the frames go out without waiting for the end of the tick. */
const MAX_QUEUED = 64 * 1024;

/**
 * Frames queued in one turn of the event loop (all the events one upstream chunk gave) go to the
 * socket in one write at its end, not one write (and one chunked-encoding frame) per event.
 */
class EventWriter {
  private pending = "";
  private scheduled = false;
  private lastWrite = performance.now();
  private blocked: Promise<unknown> | undefined;
  private readonly res: ServerResponse;
  private readonly flushNow = () => this.flush();

  constructor(res: ServerResponse) {
    this.res = res;
  }

  /** Milliseconds since bytes last went out (or were queued to). */
  idleFor(): number {
    return this.pending ? 0 : performance.now() - this.lastWrite;
  }

  queue(frame: string): void {
    this.pending += frame;
    if (this.pending.length >= MAX_QUEUED) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
  }

  /** Queued frames and this one, written now. */
  now(frame: string): void {
    this.pending += frame;
    this.flush();
  }

  /** Resolves once the socket takes more (backpressure), or at once; early if the client is gone. */
  writable(): Promise<unknown> | undefined {
    return this.blocked;
  }

  end(): void {
    this.flush();
    this.res.end();
  }

  private flush(): void {
    this.scheduled = false;
    if (!this.pending) return;
    const chunk = this.pending;
    this.pending = "";
    this.lastWrite = performance.now();
    if (this.res.destroyed || this.res.writableEnded) return;
    if (!this.res.write(chunk) && !this.blocked) this.blocked = this.drained();
  }

  /** Resolves on drain or close, removing both listeners (a long stream may wait many times). */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.res.off("drain", done);
        this.res.off("close", done);
        this.blocked = undefined;
        resolve();
      };
      this.res.on("drain", done);
      this.res.on("close", done);
    });
  }
}
