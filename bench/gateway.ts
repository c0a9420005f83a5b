/**
 * Gateway benchmark (`npm run bench:gateway`): what Parley adds in front of an OpenAI-compatible
 * upstream. In one run, the same load generator calls a fake upstream directly (Chat Completions),
 * through a bare node:http reverse proxy that pipes the bytes (the floor of any Node hop), and
 * through Parley (Messages API, translated both ways), streaming and not. The paths are measured
 * interleaved, `--repeat` times, and each figure is the median of the per-round ratios, so load
 * from other work on the machine hits every path alike.
 *
 * Three event loops: the fake upstream and the load generator each run in a worker thread; the
 * floor proxy and Parley on the main thread (one measured at a time). Options: --seconds N (per
 * measurement, default 2), --warmup N (0.5), --repeat N (rounds, default 3), --run TEXT (only
 * runs whose name contains it), --log-level L (Parley's, default warn; info logs a line per request), --only direct,floor,parley,base (a subset; one for profiling:
 * `node --cpu-prof --cpu-prof-dir=prof bench/gateway.ts --only parley --run "sse c=16"`).
 * --compare DIR adds "base": Parley from another checkout (e.g. `git archive main src | tar -x -C DIR`
 * with DIR/node_modules linked), in the same process, to measure a change against it in one run.
 * With PARLEY_BENCH_CCR_URL set to a running claude-code-router whose provider points at
 * PARLEY_BENCH_UPSTREAM_PORT (the fake upstream listens there when set), it is measured too.
 */
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { type LoadResult, type LoadSpec, measure, startLoadWorker } from "./load.ts";

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

function runUpstream(port: number): void {
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
  server.listen(port, "127.0.0.1", () => parentPort?.postMessage((server.address() as AddressInfo).port));
}

// ---------------------------------------------------------------- main thread

async function startParley(dataDir: string, upstream: string, logLevel: string, root = "..") {
  const { buildConfig } = await import(new URL(`${root}/src/config/index.ts`, import.meta.url).href);
  const { startServer } = await import(new URL(`${root}/src/server/index.ts`, import.meta.url).href);
  const config = buildConfig(
    {
      log_level: logLevel as never,
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

/** The floor: a bare node:http reverse proxy that pipes requests and replies byte for byte. */
async function startFloor(upstreamPort: number): Promise<{ url: string; close(): Promise<void> }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const server = http.createServer((req, res) => {
    const up = http.request(
      {
        host: "127.0.0.1",
        port: upstreamPort,
        path: req.url,
        method: req.method,
        headers: req.headers,
        agent,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const RUNS = [
  { name: "json c=1", stream: false, concurrency: 1 },
  { name: "json c=16", stream: false, concurrency: 16 },
  { name: "sse c=1", stream: true, concurrency: 1 },
  { name: "sse c=16", stream: true, concurrency: 16 },
];

const fmt = (n: number, digits = 0) => n.toFixed(digits).padStart(9);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const rps = (m: LoadResult) => m.requests / m.seconds;
/** CPU the main thread (the hop being measured) spent per request, µs. */
const cpuPerRequest = (m: LoadResult) => (m.mainCpuMs * 1000) / (m.requests + m.warmupRequests);

interface Path {
  name: string;
  spec(stream: boolean, concurrency: number): LoadSpec;
}

function openAiSpec(url: string, stream: boolean, concurrency: number): LoadSpec {
  const body = { model: "bench", max_tokens: 64, stream, messages: [{ role: "user", content: PROMPT }] };
  return {
    url: `${url}/v1/chat/completions`,
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
    concurrency,
    warmupMs: 0,
    durationMs: 0,
  };
}

function messagesSpec(url: string, model: string, stream: boolean, concurrency: number): LoadSpec {
  const body = { model, max_tokens: 64, stream, messages: [{ role: "user", content: PROMPT }] };
  return {
    url: `${url}/v1/messages`,
    body: JSON.stringify(body),
    headers: { "content-type": "application/json", "x-api-key": KEY, "anthropic-version": "2023-06-01" },
    concurrency,
    warmupMs: 0,
    durationMs: 0,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "2" },
      warmup: { type: "string", default: "0.5" },
      repeat: { type: "string", default: "3" },
      run: { type: "string", default: "" },
      only: { type: "string" },
      "log-level": { type: "string", default: "warn" },
      compare: { type: "string" },
    },
  });
  const durationMs = Number(values.seconds) * 1000;
  const warmupMs = Number(values.warmup) * 1000;
  const rounds = Math.max(1, Number(values.repeat));
  const upstreamWorker = new Worker(new URL(import.meta.url), {
    workerData: { role: "upstream", port: Number(process.env.PARLEY_BENCH_UPSTREAM_PORT ?? 0) },
  });
  const port = await new Promise<number>((r) => upstreamWorker.once("message", r));
  const upstream = `http://127.0.0.1:${port}`;
  const dataDir = await mkdtemp(join(tmpdir(), "parley-bench-gw-"));
  const parley = await startParley(dataDir, upstream, values["log-level"]);
  const floor = await startFloor(port);
  const baseDir =
    values.compare === undefined ? undefined : await mkdtemp(join(tmpdir(), "parley-bench-gw-"));
  const base =
    values.compare === undefined || baseDir === undefined
      ? undefined
      : await startParley(
          baseDir,
          upstream,
          values["log-level"],
          pathToFileURL(resolve(values.compare)).href,
        );
  const ccr = process.env.PARLEY_BENCH_CCR_URL;
  const all: Path[] = [
    { name: "direct", spec: (s, c) => openAiSpec(upstream, s, c) },
    { name: "floor", spec: (s, c) => openAiSpec(floor.url, s, c) },
    { name: "parley", spec: (s, c) => messagesSpec(parley.url, "gw", s, c) },
  ];
  if (base) all.push({ name: "base", spec: (s, c) => messagesSpec(base.url, "gw", s, c) });
  if (ccr) all.push({ name: "ccr", spec: (s, c) => messagesSpec(ccr, "bench", s, c) });
  const paths = all.filter((p) => !values.only || values.only.split(",").includes(p.name));
  const load = startLoadWorker();

  console.log(
    `Parley gateway benchmark: Node ${process.version}, ${availableParallelism()} CPUs (load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")} before the run), loopback, keep-alive; ${rounds} interleaved rounds of ` +
      `${warmupMs / 1000} s warm-up + ${durationMs / 1000} s per path and run; figures are medians over the rounds\n` +
      `direct: load generator → fake OpenAI-compatible upstream (${CHUNKS} text chunks + usage per reply)\n` +
      `floor:  load generator → bare node:http proxy piping bytes → the same upstream\n` +
      `parley: load generator → Parley (Messages API, provider openai, log level ${values["log-level"]}) → the same upstream\n` +
      (base ? `base:   the same through Parley as checked out at ${values.compare}\n` : "") +
      (ccr ? `ccr:    load generator → claude-code-router at ${ccr} → the same upstream\n` : "") +
      (ccr ? "" : "claude-code-router: not measured (set PARLEY_BENCH_CCR_URL to a running one)\n"),
  );
  const results = new Map<string, LoadResult[]>();
  let failures = 0;
  const runs = RUNS.filter((r) => r.name.includes(values.run));
  for (let round = 0; round < rounds; round++) {
    for (const run of runs) {
      for (const path of paths) {
        const m = await measure(load, { ...path.spec(run.stream, run.concurrency), warmupMs, durationMs });
        failures += m.failures;
        const key = `${run.name}|${path.name}`;
        results.set(key, [...(results.get(key) ?? []), m]);
      }
    }
  }
  console.log(
    `${"run".padEnd(10)} ${"path".padEnd(7)}     req/s    p50 ms    p99 ms  hop CPU µs/req   (medians)`,
  );
  for (const run of runs) {
    for (const path of paths) {
      const ms = results.get(`${run.name}|${path.name}`) ?? [];
      console.log(
        `${run.name.padEnd(10)} ${path.name.padEnd(7)} ${fmt(median(ms.map(rps)))} ${fmt(median(ms.map((m) => m.p50)), 3)} ${fmt(median(ms.map((m) => m.p99)), 3)} ${path.name === "direct" || path.name === "ccr" ? "              -" : fmt(median(ms.map(cpuPerRequest))).padStart(15)}`,
      );
    }
  }
  if (paths.some((p) => p.name === "direct")) {
    console.log(
      "\nvs direct, median over rounds of (path − direct) p50 and path / direct req/s (aim for parley: +≤0.5 ms at c=1, ≥0.7× at c=16)",
    );
    for (const run of runs) {
      const direct = results.get(`${run.name}|direct`) ?? [];
      const parts = paths
        .filter((p) => p.name !== "direct")
        .map((p) => {
          const ms = results.get(`${run.name}|${p.name}`) ?? [];
          const added = median(ms.map((m, i) => m.p50 - (direct[i] as LoadResult).p50));
          const ratio = median(ms.map((m, i) => rps(m) / rps(direct[i] as LoadResult)));
          return `${p.name} +${added.toFixed(3)} ms ${ratio.toFixed(2)}×`;
        });
      console.log(`${run.name.padEnd(10)} ${parts.join("   ")}`);
    }
  }
  const pf = (name: string, run: string) => results.get(`${run}|${name}`);
  if (pf("floor", runs[0]?.name ?? "") && pf("parley", runs[0]?.name ?? "")) {
    console.log(
      "\nparley vs the floor (a bare Node hop): median of parley / floor req/s, and parley − floor p50",
    );
    for (const run of runs) {
      const f = pf("floor", run.name) ?? [];
      const p = pf("parley", run.name) ?? [];
      const ratio = median(p.map((m, i) => rps(m) / rps(f[i] as LoadResult)));
      const added = median(p.map((m, i) => m.p50 - (f[i] as LoadResult).p50));
      const cpu = median(p.map((m, i) => cpuPerRequest(m) / cpuPerRequest(f[i] as LoadResult)));
      console.log(
        `${run.name.padEnd(10)} ${ratio.toFixed(2)}× floor req/s, p50 +${added.toFixed(3)} ms, ${cpu.toFixed(2)}× floor CPU per request`,
      );
    }
  }
  if (pf("base", runs[0]?.name ?? "") && pf("parley", runs[0]?.name ?? "")) {
    console.log(
      "\nparley vs base (the other checkout): median of parley / base req/s, and parley − base p50",
    );
    for (const run of runs) {
      const b = pf("base", run.name) ?? [];
      const p = pf("parley", run.name) ?? [];
      const ratio = median(p.map((m, i) => rps(m) / rps(b[i] as LoadResult)));
      const added = median(p.map((m, i) => m.p50 - (b[i] as LoadResult).p50));
      const cpu = median(p.map((m, i) => cpuPerRequest(m) / cpuPerRequest(b[i] as LoadResult)));
      console.log(
        `${run.name.padEnd(10)} ${ratio.toFixed(2)}× base req/s, p50 ${added >= 0 ? "+" : ""}${added.toFixed(3)} ms, ${cpu.toFixed(2)}× base CPU per request`,
      );
    }
  }
  if (failures > 0) console.log(`\n${failures} requests failed: the figures above are not valid`);
  await load.terminate();
  await floor.close();
  await parley.close();
  await base?.close();
  if (baseDir) await rm(baseDir, { recursive: true, force: true });
  await upstreamWorker.terminate();
  await rm(dataDir, { recursive: true, force: true });
  process.exitCode = failures > 0 ? 1 : 0;
}

if (isMainThread) await main();
else if (workerData?.role === "upstream") runUpstream(workerData.port);
