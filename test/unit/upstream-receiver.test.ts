import type { Dispatcher } from "undici";
import { describe, expect, it } from "vitest";
import { UpstreamReceiver } from "../../src/providers/upstream/receiver.ts";

/** What undici's controller is told, as a list: pause, resume, abort:<message>. */
function fakeController() {
  const calls: string[] = [];
  let paused = false;
  const controller = {
    get paused() {
      return paused;
    },
    aborted: false,
    reason: null,
    pause() {
      paused = true;
      calls.push("pause");
    },
    resume() {
      paused = false;
      calls.push("resume");
    },
    abort(reason: Error) {
      calls.push(`abort:${reason.message}`);
    },
  } as Dispatcher.DispatchController;
  return { controller, calls };
}

const kb = (n: number, fill = 1) => Buffer.alloc(n * 1024, fill);

describe("UpstreamReceiver", () => {
  it("queues chunks nobody asked for, pauses the socket past 64 KB and resumes it once read down", async () => {
    const r = new UpstreamReceiver();
    const { controller, calls } = fakeController();
    r.onRequestStart(controller);
    r.onResponseStart(controller, 200, { "content-type": "text/plain" });
    expect(await r.head).toEqual({ status: 200, headers: { "content-type": "text/plain" } });
    r.onResponseData(controller, kb(40, 1));
    r.onResponseData(controller, kb(20, 2));
    expect(calls).toEqual([]);
    r.onResponseData(controller, kb(40, 3));
    expect(calls).toEqual(["pause"]);
    expect((await r.next()).value?.[0]).toBe(1); // 60 KB left: at or below the mark
    expect(calls).toEqual(["pause", "resume"]);
    expect((await r.next()).value?.[0]).toBe(2);
    expect((await r.next()).value?.[0]).toBe(3);
    r.onResponseEnd();
    expect(await r.next()).toEqual({ value: undefined, done: true });
    expect(calls).toEqual(["pause", "resume"]);
  });

  it("a reader waiting gets the chunk directly; an error reaches it, and the head when it had not come", async () => {
    const r = new UpstreamReceiver();
    const { controller } = fakeController();
    r.onRequestStart(controller);
    r.onResponseStart(controller, 200, {});
    const waiting = r.next();
    r.onResponseData(controller, kb(1, 7));
    expect((await waiting).value?.[0]).toBe(7);
    const failing = r.next();
    r.onResponseError(controller, new Error("socket hang up"));
    await expect(failing).rejects.toThrow("socket hang up");
    await expect(r.next()).rejects.toThrow("socket hang up");

    const refused = new UpstreamReceiver();
    refused.onResponseError(undefined, new Error("ECONNREFUSED"));
    await expect(refused.head).rejects.toThrow("ECONNREFUSED");
  });

  it("an abort before undici hands over its controller is applied when it does; none after the end", async () => {
    const r = new UpstreamReceiver();
    r.abort(new Error("client left"));
    const { controller, calls } = fakeController();
    r.onRequestStart(controller);
    expect(calls).toEqual(["abort:client left"]);

    const done = new UpstreamReceiver();
    const second = fakeController();
    done.onRequestStart(second.controller);
    done.onResponseStart(second.controller, 200, {});
    done.onResponseEnd();
    done.abort(new Error("too late"));
    expect(await done.return()).toEqual({ value: undefined, done: true });
    expect(second.calls).toEqual([]);
  });

  it("a reader that stops early aborts the exchange", async () => {
    const r = new UpstreamReceiver();
    const { controller, calls } = fakeController();
    r.onRequestStart(controller);
    r.onResponseStart(controller, 200, {});
    r.onResponseData(controller, kb(1));
    for await (const _ of r) break;
    expect(calls).toEqual(["abort:the reader stopped before the end of the body"]);
  });
});
