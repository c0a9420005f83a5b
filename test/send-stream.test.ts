import http from "node:http";
import net, { type AddressInfo } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { type EventBatches, encodeEvent, type StreamEvent } from "../src/protocol/index.ts";
import { FrameWriter } from "../src/server/frame-writer.ts";
import { sendStream } from "../src/server/send-stream.ts";
import { UsageTally } from "../src/service/index.ts";

const start: StreamEvent = {
  type: "message_start",
  message: {
    id: "msg_1",
    type: "message",
    role: "assistant",
    model: "m",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 3, output_tokens: 0 },
  } as never,
};
const delta = (text: string): StreamEvent => ({
  type: "content_block_delta",
  index: 0,
  delta: { type: "text_delta", text },
});
const PING = encodeEvent({ type: "ping" });
/** What the client has read so far, chunk by chunk (reset per test). */
let received: string[] = [];

/** Waits (bounded) until the client has read `frame`: the stream goes on only once it is out. */
async function delivered(frame: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!received.join("").includes(frame)) {
    if (Date.now() > deadline) throw new Error(`the client never got ${JSON.stringify(frame)}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A server whose one route streams `events()` through sendStream; returns the chunks a raw client read. */
async function chunksOf(
  events: () => AsyncIterable<StreamEvent>,
  pingIntervalMs = 60_000,
  tallies: UsageTally[] = [],
): Promise<string[]> {
  app = Fastify();
  app.get("/", async (_request, reply) => {
    const tally = new UsageTally();
    tallies.push(tally);
    await sendStream(reply, events(), {
      headers: { "request-id": "req_1" },
      pingIntervalMs,
      signal: new AbortController().signal,
      tally,
      onError: () => {},
    });
    return reply;
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  received = [];
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: "/" }, (res) => {
        const chunks = received;
        res.setEncoding("utf8");
        res.on("data", (c: string) => chunks.push(c));
        res.on("end", () => resolve(chunks));
      })
      .on("error", reject);
  });
}

describe("sendStream batches the frames of one event-loop turn", () => {
  it("sends the first event with its ping in the turn it came, then each burst of events as one chunk", async () => {
    const chunks = await chunksOf(async function* () {
      yield start;
      await delivered(PING);
      // One upstream chunk's worth: three events in the same turn.
      yield delta("a");
      yield delta("b");
      yield delta("c");
      await delivered(encodeEvent(delta("c")));
      yield { type: "message_stop" };
    });
    expect(chunks).toEqual([
      encodeEvent(start) + PING,
      encodeEvent(delta("a")) + encodeEvent(delta("b")) + encodeEvent(delta("c")),
      encodeEvent({ type: "message_stop" }),
    ]);
  });

  it("does not hold events back: one arriving alone goes out before the next is produced", async () => {
    const chunks = await chunksOf(async function* () {
      yield start;
      for (let i = 0; i < 3; i++) {
        yield delta(String(i));
        // Throws (and fails the test) if the frame waited for a later event to go out.
        await delivered(encodeEvent(delta(String(i))));
      }
      yield { type: "message_stop" };
    });
    // message_start and the first delta came in one turn, so they left in one write.
    expect(chunks.slice(0, 3)).toEqual([
      encodeEvent(start) + PING + encodeEvent(delta("0")),
      encodeEvent(delta("1")),
      encodeEvent(delta("2")),
    ]);
    expect(chunks.join("")).toBe(
      encodeEvent(start) +
        PING +
        [0, 1, 2].map((i) => encodeEvent(delta(String(i)))).join("") +
        encodeEvent({ type: "message_stop" }),
    );
  });

  it("keeps every byte and the order of a long burst larger than the socket buffer", async () => {
    const texts = Array.from({ length: 4000 }, (_, i) => `token ${i} `.repeat(8));
    const chunks = await chunksOf(async function* () {
      yield start;
      for (const t of texts) yield delta(t);
      yield { type: "message_stop" };
    });
    expect(chunks.length).toBeGreaterThan(2); // more than 64 KiB queued goes out without waiting
    expect(chunks.join("")).toBe(
      encodeEvent(start) +
        PING +
        texts.map((t) => encodeEvent(delta(t))).join("") +
        encodeEvent({ type: "message_stop" }),
    );
  });

  it("an error after the first event becomes an error event after what was already queued", async () => {
    const chunks = await chunksOf(async function* () {
      yield start;
      yield delta("x");
      throw new Error("boom");
    });
    const body = chunks.join("");
    expect(body.startsWith(encodeEvent(start) + PING + encodeEvent(delta("x")))).toBe(true);
    expect(body.slice((encodeEvent(start) + PING + encodeEvent(delta("x"))).length)).toMatch(
      /^event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"[^"]+"\}\}\n\n$/,
    );
  });
});

/** Batches whose per-event view must not be read: sendStream takes the batches. */
const batched = (batches: () => AsyncIterable<readonly StreamEvent[]>): EventBatches => ({
  batches,
  [Symbol.asyncIterator]: () => {
    throw new Error("read event by event");
  },
});

describe("sendStream reads a batched reply a batch at a time", () => {
  it("writes each batch's events as a per-event reply would, a ping after message_start only", async () => {
    const tallies: UsageTally[] = [];
    const chunks = await chunksOf(
      () =>
        batched(async function* () {
          yield [start, delta("a")];
          await delivered(encodeEvent(delta("a")));
          yield [delta("b"), delta("c")];
          await delivered(encodeEvent(delta("c")));
          yield [{ type: "content_block_stop", index: 0 }, { type: "message_stop" }];
        }),
      60_000,
      tallies,
    );
    expect(chunks).toEqual([
      encodeEvent(start) + PING + encodeEvent(delta("a")),
      encodeEvent(delta("b")) + encodeEvent(delta("c")),
      encodeEvent({ type: "content_block_stop", index: 0 }) + encodeEvent({ type: "message_stop" }),
    ]);
    expect(tallies[0]?.cutShort).toBe(false);
    expect(tallies[0]?.firstDeltaAt).toBeTypeOf("number");
  });

  it("an error event ends the reply, the rest of its batch unsent", async () => {
    const error: StreamEvent = { type: "error", error: { type: "overloaded_error", message: "busy" } };
    const chunks = await chunksOf(() =>
      batched(async function* () {
        yield [start, delta("a"), error, delta("never")];
        yield [delta("never either")];
      }),
    );
    expect(chunks.join("")).toBe(encodeEvent(start) + PING + encodeEvent(delta("a")) + encodeEvent(error));
  });

  it("a batch source that throws after a batch ends with an error event after that batch", async () => {
    const chunks = await chunksOf(() =>
      batched(async function* () {
        yield [start, delta("x")];
        throw new Error("boom");
      }),
    );
    const body = chunks.join("");
    const head = encodeEvent(start) + PING + encodeEvent(delta("x"));
    expect(body.startsWith(head)).toBe(true);
    expect(body.slice(head.length)).toMatch(
      /^event: error\ndata: \{"type":"error","error":\{"type":"api_error"/,
    );
  });
});

describe("FrameWriter (the relay path's writer too)", () => {
  /** What a raw socket read, read by read, for one GET whose handler drives a FrameWriter. */
  async function readsOf(drive: (out: FrameWriter) => Promise<void>): Promise<string[]> {
    app = Fastify();
    app.get("/", async (_request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { "content-type": "text/event-stream" });
      await drive(new FrameWriter(reply.raw));
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = app.server.address() as AddressInfo;
    return new Promise((resolve, reject) => {
      const reads: string[] = [];
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.write("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
      });
      socket.setEncoding("latin1");
      socket.on("data", (d: string) => reads.push(d));
      socket.on("end", () => resolve(reads));
      socket.on("error", reject);
    });
  }

  it("sends bytes queued in one turn and the end of the reply in one write", async () => {
    const reads = await readsOf(async (out) => {
      out.queue(Buffer.from("event: a\ndata: {}\n\n"));
      out.queue(Buffer.from("event: b\ndata: {}\n\n"));
      out.end();
    });
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(reads[0]).toContain("event: a\ndata: {}\n\n");
    expect(reads[0]?.endsWith("event: b\ndata: {}\n\n\r\n0\r\n\r\n")).toBe(true);
  });

  it("does not hold bytes back waiting for the end: a lone chunk leaves in its own turn", async () => {
    const reads = await readsOf(async (out) => {
      out.queue(Buffer.from("one"));
      await new Promise((r) => setTimeout(r, 50));
      out.queue("two");
      out.end();
    });
    expect(reads).toHaveLength(2);
    expect(reads[0]).toContain("one");
    expect(reads[0]).not.toContain("two");
    expect(reads[1]?.endsWith("two\r\n0\r\n\r\n")).toBe(true);
  });
});
