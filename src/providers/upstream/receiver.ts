import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";

/** Body bytes held for a consumer that has not asked for them yet, before the socket is paused. */
const HIGH_WATER = 64 * 1024;

export interface ResponseHead {
  status: number;
  headers: IncomingHttpHeaders;
}

/**
 * One upstream exchange as undici's dispatcher sees it, handed to Parley as a promise of the
 * status line and headers and an async iterator over the body chunks. `agent.request()` puts a
 * Node Readable, its async iterator and their listeners and ticks between the socket and the
 * reader of every reply (about a sixth of the gateway hop's CPU at 16 connections, perf); here a
 * chunk goes from the parser to the waiting reader, or into a queue, and past HIGH_WATER queued
 * bytes the socket is paused until the reader catches up.
 */
export class UpstreamReceiver implements Dispatcher.DispatchHandler, AsyncIterator<Uint8Array> {
  readonly head: Promise<ResponseHead>;
  private settleHead!: { resolve(head: ResponseHead): void; reject(err: Error): void };
  private controller: Dispatcher.DispatchController | undefined;
  /** An abort asked for before undici handed over its controller. */
  private pendingAbort: Error | undefined;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private error: Error | undefined;
  private waiter: { resolve(r: IteratorResult<Uint8Array>): void; reject(err: Error): void } | undefined;

  constructor() {
    this.head = new Promise((resolve, reject) => {
      this.settleHead = { resolve, reject };
    });
    // open() awaits it at once; this only keeps a failure nobody waits for from being unhandled.
    this.head.catch(() => {});
  }

  /** Ends the exchange (timeouts, the client leaving, a reader that stopped early). */
  abort(reason: Error): void {
    if (this.ended || this.error) return;
    if (this.controller) this.controller.abort(reason);
    else this.pendingAbort = reason;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.pendingAbort) controller.abort(this.pendingAbort);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
  ): void {
    this.settleHead.resolve({ status, headers });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter.resolve({ value: chunk, done: false });
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued > HIGH_WATER) controller.pause();
  }

  onResponseEnd(): void {
    this.ended = true;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve({ value: undefined, done: true });
  }

  /** Also called before any controller exists (a refused connection). */
  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.error = err;
    this.settleHead.reject(err);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(err);
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    const chunk = this.queue.shift();
    if (chunk) {
      this.queued -= chunk.length;
      if (this.queued <= HIGH_WATER && this.controller?.paused) this.controller.resume();
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.error) return Promise.reject(this.error);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** A reader that stops early: the rest of the body is not wanted. */
  async return(): Promise<IteratorResult<Uint8Array>> {
    this.abort(new Error("the reader stopped before the end of the body"));
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this;
  }
}
