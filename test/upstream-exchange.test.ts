import type http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CircuitBreaker, type Outcome, Upstream, UpstreamFailure } from "../src/providers/upstream/index.ts";
import { type FakeUpstream, hang, json, startFakeUpstream } from "./fakes/http-upstream.ts";

// One upstream exchange (Upstream.open) against a real server on loopback: the body reaches the
// reader whole and in order, however slowly it reads; timeouts, a client that leaves and a reader
// that stops early end the exchange and close the upstream's connection.

const timeouts = { connectMs: 500, firstByteMs: 400, idleMs: 300 };
const call = {
  method: "POST" as const,
  path: "/chat/completions",
  headers: {},
  body: "{}",
  awaitFirstChunk: true,
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let fake: FakeUpstream;
beforeAll(async () => {
  fake = await startFakeUpstream();
});
afterAll(() => fake.close());

/** Records what each exchange settled as, as the pool's breaker is told. */
class RecordingBreaker extends CircuitBreaker {
  readonly outcomes: Outcome[] = [];
  override onSuccess(): void {
    this.outcomes.push("ok");
    super.onSuccess();
  }
  override onFailure(retryAfterMs?: number): void {
    this.outcomes.push("failed");
    super.onFailure(retryAfterMs);
  }
  override onCancel(): void {
    this.outcomes.push("cancelled");
    super.onCancel();
  }
}

function upstreamAt(origin: string) {
  const breaker = new RecordingBreaker({ baseMs: 1000, maxMs: 5000, consecutive: 3 });
  return { upstream: new Upstream(`${origin}/v1`, timeouts, breaker), outcomes: breaker.outcomes };
}

/** The upstream side of the next watched response: resolves when it closes, with whether it finished. */
function nextResponseClosed(): Promise<boolean> {
  return new Promise((resolve) => {
    closedHook = resolve;
  });
}
let closedHook: ((finished: boolean) => void) | undefined;
const watch = (res: http.ServerResponse) =>
  res.on("close", () => {
    closedHook?.(res.writableFinished);
    closedHook = undefined;
  });

/** An SSE reply that never ends: a frame every 10 ms until the connection closes. */
function endlessStream(_req: unknown, res: http.ServerResponse): void {
  watch(res);
  res.writeHead(200, { "content-type": "text/event-stream" });
  const tick = setInterval(() => res.write("data: more\n\n"), 10);
  res.on("close", () => clearInterval(tick));
}

describe("Upstream.open", () => {
  it("a 4 MB body reaches a slow reader whole and in order", async () => {
    const piece = (i: number) => Buffer.alloc(64 * 1024, i % 251);
    fake.handle(async (_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      for (let i = 0; i < 64; i++) {
        if (!res.write(piece(i))) await new Promise((r) => res.once("drain", r));
      }
      res.end();
    });
    const { upstream, outcomes } = upstreamAt(fake.origin);
    const reply = await upstream.open(call, new AbortController().signal);
    const got: Buffer[] = [];
    let reads = 0;
    for await (const chunk of reply.body) {
      got.push(Buffer.from(chunk));
      // Reads slower than loopback delivers: the receiver queues, pauses the socket, resumes it.
      if (++reads % 8 === 0) await sleep(5);
    }
    reply.finish("ok");
    const all = Buffer.concat(got);
    expect(all.length).toBe(64 * 64 * 1024);
    for (let i = 0; i < 64; i++) expect(all[i * 64 * 1024]).toBe(i % 251);
    expect(all.equals(Buffer.concat(Array.from({ length: 64 }, (_, i) => piece(i))))).toBe(true);
    expect(outcomes).toEqual(["ok"]);
    await upstream.close();
  });

  it("status and headers come through; an error status is a status failure with the upstream's text", async () => {
    fake.handle((_req, res) => json(res, 400, { error: { message: "bad things" } }, { "x-upstream": "a" }));
    const { upstream, outcomes } = upstreamAt(fake.origin);
    const err = await upstream.open(call, new AbortController().signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamFailure);
    expect(err).toMatchObject({ kind: "status", status: 400, upstreamMessage: "bad things" });
    expect(outcomes).toEqual(["ok"]); // a 400 is the client's mistake, not the upstream's failure
    fake.handle((_req, res) => json(res, 200, { ok: true }, { "x-upstream": "b", "set-cookie": "a=1" }));
    const reply = await upstream.open({ ...call, awaitFirstChunk: false }, new AbortController().signal);
    expect([reply.status, reply.headers["x-upstream"], reply.headers["content-type"]]).toEqual([
      200,
      "b",
      "application/json",
    ]);
    let text = "";
    for await (const c of reply.body) text += Buffer.from(c).toString("utf8");
    expect(JSON.parse(text)).toEqual({ ok: true });
    await upstream.close();
  });

  it("an upstream that goes silent mid-body ends the body with idle_timeout and closes its connection", async () => {
    fake.handle((_req, res) => {
      watch(res);
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: first\n\n");
    });
    const { upstream, outcomes } = upstreamAt(fake.origin);
    const closed = nextResponseClosed();
    const reply = await upstream.open(call, new AbortController().signal);
    const chunks: string[] = [];
    const err = await (async () => {
      for await (const c of reply.body) chunks.push(Buffer.from(c).toString("utf8"));
    })().catch((e: unknown) => e);
    expect(chunks).toEqual(["data: first\n\n"]);
    expect(err).toMatchObject({ kind: "idle_timeout" });
    expect(await closed).toBe(false);
    expect(outcomes).toEqual(["failed"]);
    await upstream.close();
  });

  it("no status line within first_byte_ms: first_byte_timeout", async () => {
    fake.handle(hang);
    const { upstream, outcomes } = upstreamAt(fake.origin);
    const started = performance.now();
    const err = await upstream.open(call, new AbortController().signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "first_byte_timeout" });
    expect(performance.now() - started).toBeGreaterThanOrEqual(timeouts.firstByteMs - 5);
    expect(outcomes).toEqual(["failed"]);
    await upstream.close();
  });

  it("a refused connection is a connect failure", async () => {
    const { upstream, outcomes } = upstreamAt("http://127.0.0.1:1");
    const err = await upstream.open(call, new AbortController().signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "connect" });
    expect(outcomes).toEqual(["failed"]);
    await upstream.close();
  });

  it("a client that leaves mid-body, or before the reply, cancels the exchange and closes the upstream's connection", async () => {
    fake.handle(endlessStream);
    const { upstream, outcomes } = upstreamAt(fake.origin);
    const client = new AbortController();
    const closed = nextResponseClosed();
    const reply = await upstream.open(call, client.signal);
    let seen = 0;
    const err = await (async () => {
      for await (const _ of reply.body) if (++seen === 3) client.abort();
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 499 });
    expect(await closed).toBe(false);
    expect(outcomes).toEqual(["cancelled"]);

    fake.handle(hang);
    const early = new AbortController();
    const opening = upstream.open(call, early.signal).catch((e: unknown) => e);
    await sleep(50);
    early.abort();
    expect(await opening).toMatchObject({ status: 499 });
    expect(outcomes).toEqual(["cancelled", "cancelled"]);
    const gone = new AbortController();
    gone.abort();
    expect(await upstream.open(call, gone.signal).catch((e: unknown) => e)).toMatchObject({ status: 499 });
    await upstream.close();
  });

  it("a reader that stops early closes the upstream's connection", async () => {
    fake.handle(endlessStream);
    const { upstream, outcomes } = upstreamAt(fake.origin);
    const closed = nextResponseClosed();
    const reply = await upstream.open(call, new AbortController().signal);
    let seen = 0;
    for await (const _ of reply.body) if (++seen === 2) break;
    expect(await closed).toBe(false);
    expect(outcomes).toEqual(["cancelled"]);
    await upstream.close();
  });
});
