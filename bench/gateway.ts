/**
 * Gateway benchmark (`npm run bench:gateway`): what Parley adds in front of an OpenAI-compatible
 * upstream. In one run, the same load generator calls a fake upstream directly (Chat Completions),
 * through a bare node:http reverse proxy that pipes the bytes (the floor of any Node hop), and
 * through Parley (Messages API, translated both ways), streaming and not. The paths are measured
 * interleaved (A, B, C, C, B, A, …), `--repeat` times, and each figure is the median of the
 * per-round ratios, so load from other work on the machine hits every path alike.
 *
 * Three processes: the fake upstream and the load generator each run in a child process of their
 * own; the floor proxy and Parley in this one, on the main thread (one measured at a time), so
 * neither the upstream's nor the client's work lands on the measured event loop, heap or GC.
 * Options: --seconds N (per measurement, default 1), --warmup N (0.25), --repeat N (rounds,
 * default 3: about 45 s in all), --run TEXT (only runs whose name contains it), --log-level L
 * (Parley's, default warn; info logs a line per request), --only direct,floor,parley,base,ccr (a
 * subset; one for profiling: `node --cpu-prof --cpu-prof-dir=prof bench/gateway.ts --only parley
 * --run "sse c=16"`). --compare DIR adds "base": Parley from another checkout (e.g.
 * `git archive main src | tar -x -C DIR` with DIR/node_modules linked), in the same process, to
 * measure a change against it in one run. --upstream anthropic measures the Anthropic relay path
 * instead (fake upstream, direct and floor on /v1/messages; Parley with provider anthropic).
 * claude-code-router is measured when installed (a `ccr` on PATH, or
 * `@musistudio/claude-code-router` in node_modules or the global npm root): it is started with a
 * throw-away HOME whose config points it at the fake upstream. It is never a dependency. With
 * PARLEY_BENCH_CCR_URL set to a running one (its provider pointed at PARLEY_BENCH_UPSTREAM_PORT,
 * where the fake upstream then listens), that one is used instead.
 */
import { type ChildProcess, execFileSync, fork, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  CPU_COLUMNS,
  cpuPerRequest,
  type LoadResult,
  type LoadSpec,
  measure,
  startLoadProcess,
} from "./load.ts";

const KEY = "sk-bench-key-0001";
/** The upstream streams this many text chunks per reply (≈ a 24-token answer). */
const CHUNKS = 24;
const PROMPT = "Summarise the plot of Hamlet in two sentences, please, keeping it short and plain.";

// ---------------------------------------------------------------- fake upstream (child process)

const UPSTREAM_FLAG = "--parley-fake-upstream";

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

/** The same reply in the Messages API's shape, for the Anthropic relay path (`--upstream anthropic`). */
function anthropicReplies(words: string[]): { sse: string[]; json: string } {
  const frame = (e: { type: string; [k: string]: unknown }) =>
    `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
  const message = {
    id: "msg_bench",
    type: "message",
    role: "assistant",
    model: "bench",
    content: [] as unknown[],
    stop_reason: null as string | null,
    stop_sequence: null,
    usage: { input_tokens: 24, output_tokens: 1 },
  };
  const sse = [
    frame({ type: "message_start", message }),
    frame({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
    ...words.map((w) =>
      frame({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: w } }),
    ),
    frame({ type: "content_block_stop", index: 0 }),
    frame({
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: words.length },
    }),
    frame({ type: "message_stop" }),
  ];
  const json = JSON.stringify({
    ...message,
    content: [{ type: "text", text: words.join("") }],
    stop_reason: "end_turn",
    usage: { input_tokens: 24, output_tokens: words.length },
  });
  return { sse, json };
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
  const anthropic = anthropicReplies(words);
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
    });
    req.on("end", () => {
      const reply = req.url?.endsWith("/messages") ? anthropic : { sse, json };
      if (body.includes('"stream":true')) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        for (const frame of reply.sse) res.write(frame);
        res.end();
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(reply.json);
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(port, "127.0.0.1", () => process.send?.((server.address() as AddressInfo).port));
  process.on("disconnect", () => process.exit(0));
}

async function startUpstream(port: number): Promise<{ port: number; close(): Promise<void> }> {
  const child = fork(fileURLToPath(import.meta.url), [UPSTREAM_FLAG, String(port)], {
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const bound = await new Promise<number>((resolve, reject) => {
    child.once("message", (m) => resolve(m as number));
    child.once("exit", (code) => reject(new Error(`the fake upstream exited (${code})`)));
  });
  return { port: bound, close: () => stop(child) };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill();
  await exited;
}

// ---------------------------------------------------------------- claude-code-router, if installed

/** The `ccr` command of an installed claude-code-router, or undefined. */
function findCcr(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, "ccr"))) return join(dir, "ccr");
  }
  const roots = [join(process.cwd(), "node_modules")];
  try {
    roots.push(execFileSync("npm", ["root", "-g"], { encoding: "utf8", timeout: 10_000 }).trim());
  } catch {
    // no npm on PATH: only the local node_modules
  }
  for (const root of roots) {
    const bin = join(root, ".bin", "ccr");
    if (existsSync(bin)) return bin;
    const pkg = join(root, "@musistudio", "claude-code-router", "dist", "cli.js");
    if (existsSync(pkg)) return pkg;
  }
  return undefined;
}

const CCR_PORT = 3456;

/** Starts claude-code-router with a throw-away HOME whose config routes everything to the fake upstream. */
async function startCcr(bin: string, upstreamPort: number): Promise<{ url: string; close(): Promise<void> }> {
  const home = await mkdtemp(join(tmpdir(), "parley-bench-ccr-"));
  await mkdir(join(home, ".claude-code-router"), { recursive: true });
  const config = {
    HOST: "127.0.0.1",
    PORT: CCR_PORT,
    LOG: false,
    APIKEY: KEY,
    Providers: [
      {
        name: "bench",
        api_base_url: `http://127.0.0.1:${upstreamPort}/v1/chat/completions`,
        api_key: "sk-upstream",
        models: ["bench"],
      },
    ],
    Router: { default: "bench,bench" },
  };
  await writeFile(join(home, ".claude-code-router", "config.json"), JSON.stringify(config));
  const child = spawn(
    bin.endsWith(".js") ? process.execPath : bin,
    bin.endsWith(".js") ? [bin, "start"] : ["start"],
    {
      env: { ...process.env, HOME: home },
      stdio: "ignore",
    },
  );
  const url = `http://127.0.0.1:${CCR_PORT}`;
  for (let i = 0; i < 100; i++) {
    const up = await fetch(url, { signal: AbortSignal.timeout(500) }).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (i === 99) throw new Error("claude-code-router did not start listening within 20 s");
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    close: async () => {
      await stop(child);
      await rm(home, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- main thread

/** Usage is written in batches, up to 0.5 s later: flushed inside the measurement that caused it. */
const flushUsage =
  (server: { deps: { recorder: { flush?(): Promise<void> } } }) => async (): Promise<unknown> =>
    server.deps.recorder.flush?.();

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
        {
          id: "relay",
          provider: "anthropic",
          base_url: upstream,
          upstream_model: "bench",
          api_key: "sk-ant-upstream",
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
/** The hop's CPU per request, µs: its thread's total, the kernel's part of that, and the process's other threads. */
const cpuCells = (ms: LoadResult[]) => CPU_COLUMNS.map((f) => fmt(median(ms.map(f)))).join(" ");

interface Path {
  name: string;
  spec(stream: boolean, concurrency: number): LoadSpec;
  /** After each measurement, inside its CPU window: Parley writes its buffered usage. */
  settle?: () => Promise<unknown>;
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

/** Parley against another path, round by round: one line per run, none if either was not measured. */
function versus(results: Map<string, LoadResult[]>, runs: { name: string }[], name: string): string[] {
  return runs.flatMap((run) => {
    const o = results.get(`${run.name}|${name}`);
    const p = results.get(`${run.name}|parley`);
    if (!o || !p) return [];
    const ratio = median(p.map((m, i) => rps(m) / rps(o[i] as LoadResult)));
    const added = median(p.map((m, i) => m.p50 - (o[i] as LoadResult).p50));
    const cpu = median(p.map((m, i) => cpuPerRequest(m) / cpuPerRequest(o[i] as LoadResult)));
    const cpuText = name === "ccr" ? "" : `, ${cpu.toFixed(2)}× ${name} CPU per request`;
    return [
      `${run.name.padEnd(10)} ${ratio.toFixed(2)}× ${name} req/s, p50 ${added >= 0 ? "+" : ""}${added.toFixed(3)} ms${cpuText}`,
    ];
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "1" },
      warmup: { type: "string", default: "0.25" },
      repeat: { type: "string", default: "3" },
      run: { type: "string", default: "" },
      only: { type: "string" },
      "log-level": { type: "string", default: "warn" },
      compare: { type: "string" },
      upstream: { type: "string", default: "openai" },
    },
  });
  const durationMs = Number(values.seconds) * 1000;
  const warmupMs = Number(values.warmup) * 1000;
  const rounds = Math.max(1, Number(values.repeat));
  const fake = await startUpstream(Number(process.env.PARLEY_BENCH_UPSTREAM_PORT ?? 0));
  const { port } = fake;
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
  const wanted = (name: string) => !values.only || values.only.split(",").includes(name);
  const ccrBin = process.env.PARLEY_BENCH_CCR_URL || !wanted("ccr") ? undefined : findCcr();
  const ccrServer = ccrBin ? await startCcr(ccrBin, port) : undefined;
  const ccr = process.env.PARLEY_BENCH_CCR_URL || ccrServer?.url;
  // openai: Parley translates Messages ⇄ Chat Completions; anthropic: Parley relays the upstream's bytes.
  const relay = values.upstream === "anthropic";
  const model = relay ? "relay" : "gw";
  const upstreamSpec = (url: string, s: boolean, c: number) =>
    relay ? messagesSpec(url, "bench", s, c) : openAiSpec(url, s, c);
  const all: Path[] = [
    { name: "direct", spec: (s, c) => upstreamSpec(upstream, s, c) },
    { name: "floor", spec: (s, c) => upstreamSpec(floor.url, s, c) },
    { name: "parley", spec: (s, c) => messagesSpec(parley.url, model, s, c), settle: flushUsage(parley) },
  ];
  if (base)
    all.push({ name: "base", spec: (s, c) => messagesSpec(base.url, model, s, c), settle: flushUsage(base) });
  if (ccr) all.push({ name: "ccr", spec: (s, c) => messagesSpec(ccr, "bench", s, c) });
  const paths = all.filter((p) => wanted(p.name));
  const load = startLoadProcess();

  console.log(
    `Parley gateway benchmark: Node ${process.version}, ${availableParallelism()} CPUs (load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")} before the run), loopback, keep-alive; ${rounds} interleaved rounds of ` +
      `${warmupMs / 1000} s warm-up + ${durationMs / 1000} s per path and run; figures are medians over the rounds\n` +
      (relay
        ? `direct: load generator → fake Anthropic upstream, /v1/messages (${CHUNKS} text deltas per reply)\n`
        : `direct: load generator → fake OpenAI-compatible upstream (${CHUNKS} text chunks + usage per reply)\n`) +
      `floor:  load generator → bare node:http proxy piping bytes → the same upstream\n` +
      `parley: load generator → Parley (Messages API, provider ${relay ? "anthropic, relayed bytes" : "openai, translated"}, log level ${values["log-level"]}) → the same upstream\n` +
      (base ? `base:   the same through Parley as checked out at ${values.compare}\n` : "") +
      (ccr
        ? `ccr:    load generator → claude-code-router at ${ccr}${ccrBin ? ` (${ccrBin})` : ""} → the same upstream\n`
        : "claude-code-router: not installed (no `ccr` on PATH, no @musistudio/claude-code-router in node_modules or the global npm root)\n"),
  );
  const results = new Map<string, LoadResult[]>();
  let failures = 0;
  const runs = RUNS.filter((r) => r.name.includes(values.run));
  for (let round = 0; round < rounds; round++) {
    for (const run of runs) {
      // Odd rounds go backwards (A,B,C then C,B,A): no path always runs right after another.
      for (const path of round % 2 ? [...paths].reverse() : paths) {
        const m = await measure(
          load,
          { ...path.spec(run.stream, run.concurrency), warmupMs, durationMs },
          path.settle,
        );
        failures += m.failures;
        const key = `${run.name}|${path.name}`;
        results.set(key, [...(results.get(key) ?? []), m]);
      }
    }
  }
  console.log(
    `${"run".padEnd(10)} ${"path".padEnd(7)}     req/s    p50 ms    p99 ms  hop CPU µs/req       sys   threads   (medians)`,
  );
  for (const run of runs) {
    for (const path of paths) {
      const ms = results.get(`${run.name}|${path.name}`) ?? [];
      console.log(
        `${run.name.padEnd(10)} ${path.name.padEnd(7)} ${fmt(median(ms.map(rps)))} ${fmt(median(ms.map((m) => m.p50)), 3)} ${fmt(median(ms.map((m) => m.p99)), 3)} ${path.name === "direct" || path.name === "ccr" ? "              -" : cpuCells(ms).padStart(35)}`,
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
  const against: [string, string][] = [
    ["floor", "the floor (a bare Node hop)"],
    ["ccr", "claude-code-router"],
    ["base", "base (the other checkout)"],
  ];
  for (const [name, label] of against) {
    const lines = versus(results, runs, name);
    if (lines.length === 0) continue;
    console.log(
      `\nparley vs ${label}: median over rounds of parley / ${name} req/s, parley − ${name} p50, CPU per request`,
    );
    for (const line of lines) console.log(line);
  }
  if (failures > 0) console.log(`\n${failures} requests failed: the figures above are not valid`);
  await load.terminate();
  await floor.close();
  await parley.close();
  await base?.close();
  if (baseDir) await rm(baseDir, { recursive: true, force: true });
  await ccrServer?.close();
  await fake.close();
  await rm(dataDir, { recursive: true, force: true });
  process.exitCode = failures > 0 ? 1 : 0;
}

const upstreamAt = process.argv.indexOf(UPSTREAM_FLAG);
if (upstreamAt >= 0) runUpstream(Number(process.argv[upstreamAt + 1]));
else await main();
