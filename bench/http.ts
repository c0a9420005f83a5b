/**
 * HTTP benchmark (`npm run bench:http`): Parley with a mock model against a bare node:http server
 * that answers with the same bytes (the ceiling), measured in one run by the same load generator.
 *
 * The servers run on this thread; the load generator runs in a worker thread (its own event
 * loop), keeping connections alive. Reported: requests/s, p50/p99 latency, SSE events/s, and
 * how busy the server thread was (event-loop utilisation), each with its ratio to the ceiling.
 *
 * Options: --seconds N (per measurement, default 3), --warmup N (default 1), --run TEXT (only runs
 * whose name contains TEXT, e.g. "json c=64"), --only parley|ceiling (one server, no ratios; for
 * profiling: `node --cpu-prof --cpu-prof-dir=prof bench/http.ts --only parley --run "json c=64"`).
 */
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type LoadResult, measure, startLoadWorker } from "./load.ts";

const KEY = "sk-bench-key-0001";
const LOG_LEVEL = "warn";
/** A short chat turn: the mock echoes it (about 20 tokens, one SSE delta per token). */
const REQUEST = {
  model: "mock",
  max_tokens: 64,
  messages: [
    {
      role: "user",
      content: "Summarise the plot of Hamlet in two sentences, please, keeping it short and plain.",
    },
  ],
};
const HEADERS = { "content-type": "application/json", "x-api-key": KEY, "anthropic-version": "2023-06-01" };

// ---------------------------------------------------------------- servers (main thread)

/** The ceiling: node:http answering every request with fixed bytes, frame by frame for SSE. */
async function startCeiling(json: string, sse: string[]): Promise<{ url: string; close(): Promise<void> }> {
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

async function startParley(
  dataDir: string,
  metrics = { enabled: true },
): Promise<{ url: string; close(): Promise<void> }> {
  const { buildConfig } = await import("../src/config/index.ts");
  const { startServer } = await import("../src/server/index.ts");
  const config = buildConfig(
    {
      log_level: LOG_LEVEL,
      listen: { host: "127.0.0.1", port: 0 },
      data_dir: dataDir,
      keys: [{ key: KEY, name: "bench" }],
      models: [{ id: "mock", provider: "mock" }],
      metrics,
    },
    {},
    {},
    "bench config",
  );
  const server = await startServer(config);
  return { url: `${server.url}/v1/messages`, close: () => server.close() };
}

/** One real reply from Parley, so the ceiling sends the same bytes. */
async function sampleReply(url: string, stream: boolean): Promise<string> {
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

// ---------------------------------------------------------------- report

const RUNS = [
  { name: "json c=1", stream: false, concurrency: 1 },
  { name: "json c=64", stream: false, concurrency: 64 },
  { name: "sse c=1", stream: true, concurrency: 1 },
  { name: "sse c=64", stream: true, concurrency: 64 },
];

const fmt = (n: number, digits = 0) => n.toFixed(digits).padStart(9);

function row(run: string, server: string, m: LoadResult): string {
  const rps = m.requests / m.seconds;
  const eps = m.events / m.seconds;
  return `${run.padEnd(11)} ${server.padEnd(8)} ${fmt(rps)} ${fmt(m.p50, 3)} ${fmt(m.p99, 3)} ${m.events ? fmt(eps) : "        -"} ${fmt(m.elu * 100)}%`;
}

function ratios(run: string, ceiling: LoadResult, parley: LoadResult): { line: string; pass: boolean } {
  const rate = (m: LoadResult) => (m.events || m.requests) / m.seconds;
  const ratio = rate(parley) / rate(ceiling);
  const added = parley.p99 - ceiling.p99;
  const unit = parley.events ? "events/s" : "req/s";
  const pass = ratio >= 0.5 && added < 2;
  return {
    line: `${run.padEnd(11)} ${unit.padEnd(8)} ${ratio.toFixed(2)} x ceiling   p99 ${added >= 0 ? "+" : ""}${added.toFixed(3)} ms   ${pass ? "meets" : "MISSES"} target`,
    pass,
  };
}

/** Metrics on vs off: requests/s with metrics over requests/s without, and the added p99. */
function metricsRatio(run: string, on: LoadResult, off: LoadResult): string {
  const rps = (m: LoadResult) => m.requests / m.seconds;
  const added = on.p99 - off.p99;
  return `${run.padEnd(11)} ${fmt(rps(on))} vs ${fmt(rps(off))} req/s   ${(rps(on) / rps(off)).toFixed(3)} x   p99 ${added >= 0 ? "+" : ""}${added.toFixed(3)} ms`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "3" },
      warmup: { type: "string", default: "1" },
      run: { type: "string", default: "" },
      only: { type: "string" },
    },
  });
  const durationMs = Number(values.seconds) * 1000;
  const warmupMs = Number(values.warmup) * 1000;
  const dataDir = await mkdtemp(join(tmpdir(), "parley-bench-"));
  const parley = await startParley(dataDir);
  const json = await sampleReply(parley.url, false);
  const sse = (await sampleReply(parley.url, true)).split(/(?<=\n\n)/);
  const ceiling = await startCeiling(json, sse);
  // ---- metrics on vs off (issue 12): the same Parley with `metrics.enabled: false`, same run.
  const noMetricsDir = await mkdtemp(join(tmpdir(), "parley-bench-nometrics-"));
  const parleyNoMetrics = await startParley(noMetricsDir, { enabled: false });
  // ---- end metrics on vs off
  const servers = [
    { name: "ceiling", url: ceiling.url },
    { name: "parley", url: parley.url },
    { name: "no-metr", url: parleyNoMetrics.url },
  ].filter((s) => !values.only || s.name === values.only);
  const metricsSummary: string[] = [];
  const worker = startLoadWorker();

  console.log(
    `Parley HTTP benchmark: Node ${process.version}, ${availableParallelism()} CPUs ` +
      `(load average ${loadavg()[0].toFixed(2)} before the run: other work skews the figures), loopback, keep-alive; ` +
      `${warmupMs / 1000} s warm-up + ${durationMs / 1000} s per run\n` +
      `parley: startServer, mock model, log_level ${LOG_LEVEL}; ceiling: bare node:http sending the same bytes ` +
      `(${json.length} B JSON, ${sse.length} SSE events)\n`,
  );
  console.log(
    `${"run".padEnd(11)} ${"server".padEnd(8)}     req/s    p50 ms    p99 ms  events/s  server busy`,
  );
  const summary: { line: string; pass: boolean }[] = [];
  let failures = 0;
  for (const run of RUNS.filter((r) => r.name.includes(values.run))) {
    const body = JSON.stringify({ ...REQUEST, stream: run.stream });
    const spec = {
      body,
      headers: HEADERS,
      concurrency: run.concurrency,
      warmupMs,
      durationMs,
      stream: run.stream,
    };
    const results = new Map<string, LoadResult>();
    for (const server of servers) {
      const m = await measure(worker, { ...spec, url: server.url });
      console.log(row(run.name, server.name, m));
      failures += m.failures;
      results.set(server.name, m);
    }
    const c = results.get("ceiling");
    const p = results.get("parley");
    if (c && p) summary.push(ratios(run.name, c, p));
    const off = results.get("no-metr");
    if (p && off) metricsSummary.push(metricsRatio(run.name, p, off));
  }
  if (summary.length) console.log("\nparley / ceiling (target: >= 0.5 x and < 2 ms added p99)");
  for (const s of summary) console.log(s.line);
  if (metricsSummary.length) console.log("\nmetrics on / off (parley vs no-metr: metrics.enabled false)");
  for (const line of metricsSummary) console.log(line);
  if (failures) console.log(`\n${failures} requests did not get a 200: the figures above are not valid`);

  await worker.terminate();
  await Promise.all([ceiling.close(), parley.close(), parleyNoMetrics.close()]);
  await rm(dataDir, { recursive: true, force: true });
  await rm(noMetricsDir, { recursive: true, force: true });
  process.exitCode = failures ? 1 : 0;
}

await main();
