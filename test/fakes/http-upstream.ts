import http from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

export type FakeHandler = (req: RecordedRequest, res: http.ServerResponse) => void | Promise<void>;

/** An in-process upstream on 127.0.0.1 (port 0) whose replies each test scripts. */
export interface FakeUpstream {
  /** `http://127.0.0.1:port` */
  origin: string;
  requests: RecordedRequest[];
  /** Replaces the handler for the requests that follow. */
  handle(handler: FakeHandler): void;
  close(): Promise<void>;
}

export async function startFakeUpstream(handler: FakeHandler = notFound): Promise<FakeUpstream> {
  let current = handler;
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // keep the raw text
      }
      const recorded = { method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers, body };
      requests.push(recorded);
      Promise.resolve(current(recorded, res)).catch(() => res.destroy());
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    handle: (h) => {
      current = h;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export function notFound(_req: RecordedRequest, res: http.ServerResponse): void {
  json(res, 404, { error: { message: "not found" } });
}

export function json(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** OpenAI-style SSE: `data: <json>` frames, then `data: [DONE]` unless `done` is false. */
export async function sendOpenAISse(
  res: http.ServerResponse,
  chunks: unknown[],
  opts: { delayMs?: number; done?: boolean; dieAfter?: number } = {},
): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  for (const [i, c] of chunks.entries()) {
    if (opts.dieAfter !== undefined && i >= opts.dieAfter) {
      res.socket?.destroy();
      return;
    }
    res.write(`data: ${typeof c === "string" ? c : JSON.stringify(c)}\n\n`);
    if (opts.delayMs) await sleep(opts.delayMs);
  }
  if (opts.done !== false) res.write("data: [DONE]\n\n");
  res.end();
}

/** Anthropic-style SSE frames (`event:` + `data:`). */
export async function sendAnthropicSse(
  res: http.ServerResponse,
  events: { type: string }[],
  opts: { delayMs?: number; dieAfter?: number } = {},
): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
  for (const [i, e] of events.entries()) {
    if (opts.dieAfter !== undefined && i >= opts.dieAfter) {
      res.write(`event: ${e.type}\ndata: {"type":"${e.type}",`);
      res.socket?.destroy();
      return;
    }
    res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    if (opts.delayMs) await sleep(opts.delayMs);
  }
  res.end();
}

/** Never answers; the connection stays open until the client gives up. */
export function hang(): void {}

/** Answers a chat completion as the request asks: SSE when `stream` is true, else the folded JSON. */
export function replyOpenAI(
  req: RecordedRequest,
  res: http.ServerResponse,
  chunks: unknown[],
  fold: (chunks: unknown[]) => unknown,
  opts: { delayMs?: number; dieAfter?: number } = {},
): Promise<void> | void {
  if ((req.body as { stream?: boolean } | undefined)?.stream) return sendOpenAISse(res, chunks, opts);
  json(res, 200, fold(chunks));
}
