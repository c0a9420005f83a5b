/**
 * The servers the HTTP benchmarks measure (bench/http.ts, bench/instructions.ts): Parley with the
 * mock model, and two baselines that answer with the same bytes: bare node:http (the ceiling) and
 * bare Fastify.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import Fastify from "fastify";

export const KEY = "sk-bench-key-0001";
export const LOG_LEVEL = "warn";
/** A short chat turn: the mock echoes it (about 20 tokens, one SSE delta per token). */
export const REQUEST = {
  model: "mock",
  max_tokens: 64,
  messages: [
    {
      role: "user",
      content: "Summarise the plot of Hamlet in two sentences, please, keeping it short and plain.",
    },
  ],
};
export const HEADERS = {
  "content-type": "application/json",
  "x-api-key": KEY,
  "anthropic-version": "2023-06-01",
};

/** The ceiling: node:http answering every request with fixed bytes, frame by frame for SSE. */
export async function startCeiling(
  json: string,
  sse: string[],
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      if (body.includes('"stream":true')) {
        res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "request-id": "req_bench" });
        for (const frame of sse) res.write(frame);
        res.end();
      } else {
        res.writeHead(200, { "content-type": "application/json; charset=utf-8", "request-id": "req_bench" });
        res.end(json);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/messages`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * Fastify's own floor: the framework Parley is built on, with nothing of Parley's, parsing the
 * JSON body and sending the same bytes (SSE frame by frame, as the ceiling does). Parley's cost
 * above this row is its own work; this row's cost above the ceiling is the framework's.
 */
export async function startFastify(
  json: string,
  sse: string[],
): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify({ logger: false });
  app.post("/v1/messages", (request, reply) => {
    const body = request.body as { stream?: boolean } | undefined;
    if (body?.stream) {
      reply.hijack();
      reply.raw.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "request-id": "req_bench",
      });
      for (const frame of sse) reply.raw.write(frame);
      reply.raw.end();
      return;
    }
    reply.header("request-id", "req_bench").type("application/json; charset=utf-8").send(json);
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1/messages`, close: () => app.close() };
}

export async function startParley(
  dataDir: string,
  root = "..",
  metrics = { enabled: true },
): Promise<{ url: string; close(): Promise<void>; settle(): Promise<unknown> }> {
  const { buildConfig } = await import(new URL(`${root}/src/config/index.ts`, import.meta.url).href);
  const { startServer } = await import(new URL(`${root}/src/server/index.ts`, import.meta.url).href);
  const config = buildConfig(
    {
      log_level: LOG_LEVEL,
      listen: { host: "127.0.0.1", port: 0 },
      data_dir: dataDir,
      keys: [{ key: KEY, name: "bench" }],
      models: [{ id: "mock", provider: "mock" }],
      // Only when off: metrics are on by default, and an older checkout (--compare) knows no such key.
      ...(metrics.enabled ? {} : { metrics }),
    },
    {},
    {},
    "bench config",
  );
  const server = await startServer(config);
  return {
    url: `${server.url}/v1/messages`,
    close: () => server.close(),
    // Usage is written in batches, up to 0.5 s later: flushed inside its own measurement.
    settle: async () => server.deps.recorder.flush?.(),
  };
}

/** One real reply from Parley, so the ceiling sends the same bytes. */
export async function sampleReply(url: string, stream: boolean): Promise<string> {
  const res = await fetch(url, {
    method: "POST",
    headers: HEADERS,
    body: JSON.stringify({ ...REQUEST, stream }),
  });
  const text = await res.text();
  if (res.status !== 200)
    throw new Error(`Parley answered the benchmark request with ${res.status}: ${text}`);
  return text;
}
