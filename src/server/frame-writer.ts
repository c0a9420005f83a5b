import type { ServerResponse } from "node:http";

/** Above this many queued bytes (or characters) the frames go out without waiting for the end of the turn. */
const MAX_QUEUED = 64 * 1024;

/**
 * Frames queued in one turn of the event loop (all the events one upstream chunk gave, or the
 * relayed chunks of one read) go to the socket in one write at its end, not one write (and one
 * chunked-encoding frame) per event. `end()` in the same turn joins the terminating chunk to
 * that write: on loopback a write costs about as much as the rest of relaying a small reply.
 */
export class FrameWriter {
  private pending: (string | Uint8Array)[] = [];
  private queued = 0;
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
    return this.queued ? 0 : performance.now() - this.lastWrite;
  }

  queue(frame: string | Uint8Array): void {
    if (frame.length === 0) return;
    const last = this.pending.length - 1;
    // Text frames are joined: one string is one chunked-encoding frame, several are one each.
    if (typeof frame === "string" && typeof this.pending[last] === "string") {
      this.pending[last] += frame;
    } else {
      this.pending.push(frame);
    }
    this.queued += frame.length;
    if (this.queued >= MAX_QUEUED) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
  }

  /** Queued frames and this one, written now. */
  now(frame: string): void {
    this.queue(frame);
    this.flush();
  }

  /** Resolves once the socket takes more (backpressure), or at once; early if the client is gone. */
  writable(): Promise<unknown> | undefined {
    return this.blocked;
  }

  /** Writes what is queued and ends the response, in one write when the socket is free. */
  end(): void {
    const frames = this.take();
    if (this.res.destroyed || this.res.writableEnded) {
      this.res.end();
      return;
    }
    // The last frame goes with the end: node:http corks a separate write and schedules a tick to
    // uncork it, which its end() then does at once.
    const last = frames.pop();
    this.write(frames);
    this.res.end(last);
  }

  private flush(): void {
    this.scheduled = false;
    if (!this.queued) return;
    const frames = this.take();
    if (this.res.destroyed || this.res.writableEnded) return;
    this.write(frames);
  }

  /** The queued frames, now counted as sent. */
  private take(): (string | Uint8Array)[] {
    const frames = this.pending;
    this.pending = [];
    this.queued = 0;
    this.lastWrite = performance.now();
    return frames;
  }

  private write(frames: (string | Uint8Array)[]): void {
    // Writes in one tick are corked by node:http into one writev.
    let ok = true;
    for (const frame of frames) ok = this.res.write(frame);
    if (!ok && !this.blocked) this.blocked = this.drained();
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
