import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scrape } from "./helpers/prometheus.ts";
import { startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

/**
 * Connections are never held forever: unknown routes and missing keys are answered before the
 * body is read, a stalled or endless body is cut with a 408, and errors Node raises before a
 * request exists come in the Anthropic envelope with a request-id. Raw sockets, async I/O only.
 */

let server: TestServer;
let port: number;

beforeAll(async () => {
  server = await startTestServer({ server: { idle_timeout_ms: 400, body_timeout_ms: 1_500 } });
  port = Number(new URL(server.url).port);
});
afterAll(() => server?.stop());

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  ms: number;
}

/**
 * Writes `head`, then `trickle` bytes every `everyMs` (forever unless the server answers), and
 * resolves with the first complete reply. Gives up after `giveUpMs`.
 */
function rawRequest(head: string, opts: { trickle?: string; everyMs?: number; giveUpMs?: number } = {}) {
  const started = performance.now();
  return new Promise<RawReply>((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    let timer: NodeJS.Timeout | undefined;
    const done = (fn: () => void) => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      fn();
    };
    const giveUp = setTimeout(
      () => done(() => reject(new Error(`no reply within ${opts.giveUpMs ?? 5000} ms`))),
      opts.giveUpMs ?? 5000,
    );
    socket.on("error", () => {});
    socket.on("connect", () => {
      socket.write(head);
      if (opts.trickle)
        timer = setInterval(() => {
          if (socket.writable) socket.write(opts.trickle as string);
        }, opts.everyMs ?? 50);
    });
    const parse = () => {
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
      const headers = Object.fromEntries(
        lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
      );
      const length = Number(headers["content-length"] ?? Number.NaN);
      const body = text.slice(end + 4);
      if (Number.isFinite(length) && Buffer.byteLength(body) < length) return;
      done(() =>
        resolve({ status: Number(statusLine.split(" ")[1]), headers, body, ms: performance.now() - started }),
      );
    };
    socket.on("data", (c: Buffer) => {
      text += c.toString("utf8");
      parse();
    });
    socket.on("end", parse);
  });
}

const post = (path: string, headers: string[]) =>
  [`POST ${path} HTTP/1.1`, "host: 127.0.0.1", "content-type: application/json", ...headers, "", ""].join(
    "\r\n",
  );

function expectEnvelope(reply: RawReply, status: number, type: string): void {
  expect(reply.status).toBe(status);
  const body = JSON.parse(reply.body) as { type: string; error: { type: string }; request_id: string };
  expect(body.type).toBe("error");
  expect(body.error.type).toBe(type);
  expect(reply.headers["request-id"]).toMatch(/^req_01/);
  expect(body.request_id).toBe(reply.headers["request-id"]);
}

describe("answered before the body is read", () => {
  it("an unknown path without a key and an endless body gets its 404 at once", async () => {
    const reply = await rawRequest(post("/v1/nope", ["content-length: 100000000"]), {
      trickle: "x".repeat(1000),
    });
    expectEnvelope(reply, 404, "not_found_error");
    expect(reply.ms).toBeLessThan(1_000);
  });

  it("a missing key with an endless body gets its 401 at once", async () => {
    const reply = await rawRequest(post("/v1/messages", ["content-length: 100000000"]), { trickle: "{" });
    expectEnvelope(reply, 401, "authentication_error");
    expect(reply.headers.connection).toBe("close");
  });
});

/** parley_requests_total for POST /v1/messages bodies that never arrived, by status. */
async function refusedBodies(): Promise<Record<string, number>> {
  const m = await scrape(server.url);
  const at = (status: string, error_type: string) =>
    m.value("parley_requests_total", { model: "other", status, error_type });
  return {
    "408": at("408", "timeout_error"),
    "499": at("499", "api_error"),
    "400": at("400", "invalid_request_error"),
  };
}

/** Polls until the counts moved by `expected` from `before` (the abort that ends such a request can come seconds later). */
async function expectCounted(before: Record<string, number>, expected: Record<string, number>) {
  const moved = async () => {
    const now = await refusedBodies();
    return Object.fromEntries(Object.keys(now).map((k) => [k, (now[k] ?? 0) - (before[k] ?? 0)]));
  };
  for (let i = 0; i < 80; i++) {
    const d = await moved();
    if (Object.entries(expected).every(([k, v]) => d[k] === v)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(await moved()).toEqual({ "408": 0, "499": 0, "400": 0, ...expected });
}

describe("bodies that never finish", () => {
  it("a body that stops arriving is cut after idle_timeout_ms with a 408 envelope", async () => {
    const before = await refusedBodies();
    const reply = await rawRequest(
      `${post("/v1/messages", [`x-api-key: ${TEST_KEY}`, "content-length: 500"])}{"model":`,
    );
    expectEnvelope(reply, 408, "timeout_error");
    expect(reply.ms).toBeGreaterThanOrEqual(300);
    expect(reply.ms).toBeLessThan(3_000);
    // Counted once, as the 408 the client got (not as the aborted body Fastify reports later).
    await expectCounted(before, { "408": 1 });
  });

  it("a body that trickles forever is cut after body_timeout_ms", async () => {
    const before = await refusedBodies();
    const reply = await rawRequest(
      post("/v1/messages", [`x-api-key: ${TEST_KEY}`, "content-length: 10000000"]),
      {
        trickle: " ",
        everyMs: 100,
        giveUpMs: 6_000,
      },
    );
    expectEnvelope(reply, 408, "timeout_error");
    expect(reply.ms).toBeGreaterThanOrEqual(1_400);
    await expectCounted(before, { "408": 1 });
  });

  it("a client that leaves mid-body is counted as 499, nothing sent", async () => {
    const before = await refusedBodies();
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => {});
    await new Promise<void>((resolve) => socket.on("connect", () => resolve()));
    socket.write(`${post("/v1/messages", [`x-api-key: ${TEST_KEY}`, "content-length: 500"])}{"model":`);
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    await expectCounted(before, { "499": 1 });
  });

  it("a normal request on the same server is not affected", async () => {
    const msg = await server.client().messages.create({
      model: "mock",
      max_tokens: 8,
      messages: [{ role: "user", content: "fine" }],
    });
    expect(msg.content).toEqual([{ type: "text", text: "fine", citations: null }]);
  });
});

describe("connection-level and routing errors use the envelope", () => {
  it("malformed HTTP is a 400 with a request-id", async () => {
    expectEnvelope(await rawRequest("NOT HTTP AT ALL\r\n\r\n"), 400, "invalid_request_error");
  });

  it("headers over the size limit are a 431 with a request-id", async () => {
    const reply = await rawRequest(
      `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`,
    );
    expectEnvelope(reply, 431, "invalid_request_error");
  });

  it("a malformed URL is a 400 with a request-id", async () => {
    const reply = await rawRequest(
      `GET /v1/models/%E0%A4%A HTTP/1.1\r\nhost: x\r\nx-api-key: ${TEST_KEY}\r\n\r\n`,
    );
    expectEnvelope(reply, 400, "invalid_request_error");
  });
});
