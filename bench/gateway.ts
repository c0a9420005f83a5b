/**
 * Gateway benchmark (`npm run bench:gateway`): what Parley adds in front of an OpenAI-compatible
 * upstream. In one run, the same load generator calls a fake upstream directly (Chat Completions)
 * and through Parley (Messages API, translated both ways), streaming and not, and prints
 * requests/s, p50/p99 latency, the latency Parley adds and its share of the direct throughput.
 *
 * Three event loops: the fake upstream and the load generator each run in a worker thread,
 * Parley on the main thread. Options: --seconds N (per measurement, default 3), --warmup N (1).
 */
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { measure, startLoadWorker } from "./load.ts";

const KEY = "sk-bench-key-0001";
/** The upstream streams this many text chunks per reply (≈ a 24-token answer). */
const CHUNKS = 24;
const PROMPT = "Summarise the plot of Hamlet in two sentences, please, keeping it short and plain.";

// ---------------------------------------------------------------- fake upstream (worker)

function chunk(delta: Record<string, unknown>, finish: string | null = null): string {
  const c = {
    id: "chatcmpl-bench",
    object: "chat.completion.chunk",
    created: 1764000000,
    model: "bench",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  };
  return `data: ${JSON.stringify(c)}\n\n`;
}

function runUpstream(): void {
  const usage = { prompt_tokens: 24, completion_tokens: CHUNKS, total_tokens: 24 + CHUNKS };
  const words = Array.from({ length: CHUNKS }, (_, i) => ` word${i}`);
  const sse = [
    chunk({ role: "assistant", content: "" }),
    ...words.map((w) => chunk({ content: w })),
    chunk({ content: "" }, "stop"),
    `data: ${JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1764000000, model: "bench", choices: [], usage })}\n\n`,
    "data: [DONE]\n\n",
  ];
  const json = JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion",
    created: 1764000000,
    model: "bench",
    choices: [{ index: 0, message: { role: "assistant", content: words.join("") }, finish_reason: "stop" }],
    usage,
  });
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
    });
    req.on("end", () => {
      if (body.includes('"stream":true')) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        for (const frame of sse) res.write(frame);
        res.end();
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(json);
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, "127.0.0.1", () => parentPort?.postMessage((server.address() as AddressInfo).port));
}

// ---------------------------------------------------------------- load generator (worker)

// ---------------------------------------------------------------- main thread

async function startParley(dataDir: string, upstream: string) {
  const { buildConfig } = await import("../src/config/index.ts");
  const { startServer } = await import("../src/server/index.ts");
  const config = buildConfig(
    {
      log_level: "warn",
      listen: { host: "127.0.0.1", port: 0 },
      data_dir: dataDir,
      keys: [{ key: KEY, name: "bench" }],
      models: [
        {
          id: "gw",
          provider: "openai",
          base_url: `${upstream}/v1`,
          upstream_model: "bench",
          health_check_ms: 0,
        },
      ],
    },
    {},
    {},
    "bench config",
  );
  return startServer(config);
}

const RUNS = [
  { name: "json c=1", stream: false, concurrency: 1 },
  { name: "json c=16", stream: false, concurrency: 16 },
  { name: "sse c=1", stream: true, concurrency: 1 },
  { name: "sse c=16", stream: true, concurrency: 16 },
];

const fmt = (n: number, digits = 0) => n.toFixed(digits).padStart(9);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: "string", default: "3" }, warmup: { type: "string", default: "1" } },
  });
  const durationMs = Number(values.seconds) * 1000;
  const warmupMs = Number(values.warmup) * 1000;
  const upstreamWorker = new Worker(new URL(import.meta.url), { workerData: "upstream" });
  const port = await new Promise<number>((r) => upstreamWorker.once("message", r));
  const upstream = `http://127.0.0.1:${port}`;
  const dataDir = await mkdtemp(join(tmpdir(), "parley-bench-gw-"));
  const parley = await startParley(dataDir, upstream);
  const load = startLoadWorker();

  console.log(
    `Parley gateway benchmark: Node ${process.version}, ${availableParallelism()} CPUs (load average ${loadavg()[0].toFixed(2)} before the run), ` +
      `loopback, keep-alive; ${warmupMs / 1000} s warm-up + ${durationMs / 1000} s per run\n` +
      `direct: load generator → fake OpenAI-compatible upstream (${CHUNKS} text chunks + usage per reply)\n` +
      `parley: load generator → Parley (Messages API, provider openai) → the same upstream\n`,
  );
  console.log(`${"run".padEnd(10)} ${"path".padEnd(7)}     req/s    p50 ms    p99 ms`);
  const summary: string[] = [];
  let failures = 0;
  for (const run of RUNS) {
    const direct = await measure(load, {
      url: `${upstream}/v1/chat/completions`,
      body: JSON.stringify({
        model: "bench",
        max_tokens: 64,
        stream: run.stream,
        messages: [{ role: "user", content: PROMPT }],
      }),
      headers: { "content-type": "application/json" },
      concurrency: run.concurrency,
      warmupMs,
      durationMs,
    });
    const via = await measure(load, {
      url: `${parley.url}/v1/messages`,
      body: JSON.stringify({
        model: "gw",
        max_tokens: 64,
        stream: run.stream,
        messages: [{ role: "user", content: PROMPT }],
      }),
      headers: { "content-type": "application/json", "x-api-key": KEY, "anthropic-version": "2023-06-01" },
      concurrency: run.concurrency,
      warmupMs,
      durationMs,
    });
    for (const [path, m] of [
      ["direct", direct],
      ["parley", via],
    ] as const) {
      console.log(
        `${run.name.padEnd(10)} ${path.padEnd(7)} ${fmt(m.requests / m.seconds)} ${fmt(m.p50, 3)} ${fmt(m.p99, 3)}`,
      );
      failures += m.failures;
    }
    const ratio = via.requests / via.seconds / (direct.requests / direct.seconds);
    summary.push(
      `${run.name.padEnd(10)} added p50 ${(via.p50 - direct.p50).toFixed(3)} ms, p99 ${(via.p99 - direct.p99).toFixed(3)} ms; ` +
        `${ratio.toFixed(2)} x direct req/s`,
    );
  }
  console.log(`\n${summary.join("\n")}`);
  if (failures > 0) console.log(`\n${failures} requests failed: the figures above are not valid`);
  await load.terminate();
  await parley.close();
  await upstreamWorker.terminate();
  await rm(dataDir, { recursive: true, force: true });
  process.exitCode = failures > 0 ? 1 : 0;
}

if (isMainThread) await main();
else if (workerData === "upstream") runUpstream();
