/**
 * Instruction-count benchmark (`npm run bench:instructions`): what a request costs Parley in CPU
 * instructions, against bare node:http and bare Fastify answering with the same bytes, counted by
 * valgrind's callgrind. Unlike time, the count hardly moves with other work on the machine
 * (the steady count below repeats within a few per cent; see stopCounted), so a change of a few
 * per cent can be read in one run.
 *
 * Each server runs alone in a child process under `valgrind --tool=callgrind`, with Node's
 * `--single-threaded` (V8 then compiles and collects garbage on the measured thread, not on
 * helper threads the count would pick up at random). The load generator runs in its own process,
 * outside valgrind: `--warmup` requests first (not counted), then callgrind counts the
 * instructions of `--requests` more. The warm-up is long because V8 keeps compiling for a while:
 * after 3000 requests a change that calls a hot function fewer times a request still had its
 * compilation inside the count (582k and 509k against 472k for the same code); after 8000 it
 * had settled, and what V8 still compiles then is the same for both sides. Only user-space instructions are counted, so the
 * kernel's loopback work is not in the figures; valgrind runs Node about 50 times slower, so
 * the figures say nothing about latency.
 *
 * Each count is printed twice: all instructions, and the steady count, without V8's garbage
 * collections and optimising compilations. A scavenge comes every few thousand requests, so one
 * may or may not fall inside the counted window; and V8 is still optimising functions long after
 * the warm-up (see stopCounted). The steady count is the one to compare a change by.
 *
 * Options: --requests N (counted, default 2000), --warmup N (default 8000), --concurrency N
 * (default 16), --run TEXT (json or sse), --only NAMES (comma-separated: ceiling, fastify,
 * parley), --compare DIR (adds "base": Parley from another checkout, its src/ with node_modules
 * linked), --main-thread (count the main thread alone, leaving out Parley's usage writer thread,
 * whose SQLite batches fall into a window by luck, and which the request path does not wait
 * for). Needs valgrind (`apt-get install valgrind`); without it the bench says so and exits.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs, promisify } from "node:util";
import { startLoadProcess } from "./load.ts";
import { HEADERS, REQUEST, sampleReply, startCeiling, startFastify, startParley } from "./servers.ts";

const run = promisify(execFile);
const kilo = (n: number) => (n / 1000).toFixed(1).padStart(8);
const SERVE_FLAG = "--serve";
const RUNS = [
  { name: "json", stream: false },
  { name: "sse", stream: true },
];

type Kind = "ceiling" | "fastify" | "parley";

/** Child mode, under valgrind: start one server, print its URL, close on SIGTERM. */
async function serve(kind: Kind, replyFile: string, root: string): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "parley-bench-instr-"));
  const reply = JSON.parse(await readFile(replyFile, "utf8")) as { json: string; sse: string[] };
  const server =
    kind === "parley"
      ? await startParley(dataDir, root)
      : await (kind === "ceiling" ? startCeiling : startFastify)(reply.json, reply.sse);
  process.on("SIGTERM", async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
  console.log(JSON.stringify({ url: server.url }));
}

interface Counted {
  child: ChildProcess;
  url: string;
  outDir: string;
  /** Count the main thread alone (callgrind's `--separate-threads`, which writes a file per thread). */
  mainThread: boolean;
}

/** Starts one server under callgrind with instrumentation off, and waits for its URL. */
async function startCounted(
  kind: Kind,
  replyFile: string,
  root: string,
  mainThread: boolean,
): Promise<Counted> {
  const outDir = await mkdtemp(join(tmpdir(), "parley-callgrind-"));
  const child = spawn(
    "valgrind",
    [
      "--tool=callgrind",
      "--instr-atstart=no",
      ...(mainThread ? ["--separate-threads=yes"] : []),
      `--callgrind-out-file=${join(outDir, "callgrind.%p")}`,
      process.execPath,
      "--single-threaded",
      fileURLToPath(import.meta.url),
      SERVE_FLAG,
      kind,
      replyFile,
      root,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((resolveUrl, reject) => {
    child.once("exit", (code) => reject(new Error(`${kind} under valgrind exited (${code}):\n${log}`)));
    lines.on("line", (line) => {
      if (line.startsWith("{")) resolveUrl((JSON.parse(line) as { url: string }).url);
    });
  });
  return { child, url, outDir, mainThread };
}

/**
 * Stops a counted server and reads callgrind's totals: all instructions, and those spent by V8
 * collecting garbage and compiling optimised code, both of which fall into a window by luck.
 *
 * - Collections (`Heap::CollectGarbage`, inclusive): a scavenge of a young generation tens of MB
 *   large comes every few thousand requests. On one machine the same code counted 583k or 703k a
 *   request (SSE) by that alone, with the collection 90k of the difference.
 * - Optimising compilations (`Compiler::CompileOptimized`, inclusive: Maglev and TurboFan): after
 *   8000 requests of warm-up they were still 87k of Parley's 475k instructions a request (JSON),
 *   and 49k after 40000. Under valgrind a timer fires about fifty times as often per request
 *   (the key cache's expiry, the usage writer's flush), so code that is cold at full speed keeps
 *   being optimised, and a deoptimised function may be recompiled in one window or the next.
 */
async function stopCounted(server: Counted): Promise<{ total: number; unsteady: number }> {
  const exited = new Promise((r) => server.child.once("exit", r));
  server.child.kill("SIGTERM");
  await exited;
  let total = 0;
  let unsteady = 0;
  for (const file of await readdir(server.outDir)) {
    // With --separate-threads, callgrind.<pid>-01 is the main thread's file.
    if (server.mainThread && !file.endsWith("-01")) continue;
    const path = join(server.outDir, file);
    const text = await readFile(path, "utf8");
    total += Number(/^totals: (\d+)/m.exec(text)?.[1] ?? 0);
    unsteady += await unsteadyInstructions(path);
  }
  await rm(server.outDir, { recursive: true, force: true });
  return { total, unsteady };
}

/** What one callgrind output spent collecting garbage and compiling optimised code (inclusive). */
async function unsteadyInstructions(file: string): Promise<number> {
  const { stdout } = await run("callgrind_annotate", ["--inclusive=yes", "--threshold=100", file], {
    maxBuffer: 256 * 1024 * 1024,
  });
  const inclusive = (pattern: RegExp) => {
    const line = pattern.exec(stdout);
    return line ? Number((line[1] as string).replaceAll(",", "")) : 0;
  };
  return (
    inclusive(/^\s*([\d,]+) .*\bv8::internal::Heap::CollectGarbage\(v8::internal::AllocationSpace/m) +
    inclusive(/^\s*([\d,]+) .*\bv8::internal::Compiler::CompileOptimized\(v8::internal::Isolate/m)
  );
}

async function hasValgrind(): Promise<boolean> {
  try {
    await run("valgrind", ["--version"]);
    await run("callgrind_control", ["--version"]);
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: "string", default: "2000" },
      warmup: { type: "string", default: "8000" },
      concurrency: { type: "string", default: "16" },
      run: { type: "string", default: "" },
      only: { type: "string" },
      compare: { type: "string" },
      "main-thread": { type: "boolean", default: false },
    },
  });
  if (!(await hasValgrind())) {
    console.log(
      "bench:instructions needs valgrind and callgrind_control on PATH (apt-get install valgrind): skipped",
    );
    return;
  }
  const requests = Number(values.requests);
  const warmup = Number(values.warmup);
  const concurrency = Number(values.concurrency);
  const workDir = await mkdtemp(join(tmpdir(), "parley-bench-instr-"));
  // The baselines send exactly the bytes Parley sends, sampled from a Parley outside valgrind.
  const sampler = await startParley(workDir);
  const json = await sampleReply(sampler.url, false);
  const sse = (await sampleReply(sampler.url, true)).split(/(?<=\n\n)/);
  await sampler.close();
  const replyFile = join(workDir, "reply.json");
  await writeFile(replyFile, JSON.stringify({ json, sse }));

  const servers: { name: string; kind: Kind; root: string }[] = [
    { name: "ceiling", kind: "ceiling" as const, root: ".." },
    { name: "fastify", kind: "fastify" as const, root: ".." },
    { name: "parley", kind: "parley" as const, root: ".." },
    ...(values.compare
      ? [{ name: "base", kind: "parley" as const, root: pathToFileURL(resolve(values.compare)).href }]
      : []),
  ].filter((s) => !values.only || values.only.split(",").includes(s.name));
  console.log(
    `Parley instruction-count benchmark: Node ${process.version}, ${availableParallelism()} CPUs, valgrind callgrind, ` +
      `node --single-threaded; per server and run: ${warmup} requests of warm-up, then ${requests} counted, ` +
      `${concurrency} keep-alive connections; user-space instructions of ${values["main-thread"] ? "the main thread alone" : "the whole server process"} (kernel work not counted)\n`,
  );
  const load = startLoadProcess();
  const perRequest = new Map<string, number>();
  for (const r of RUNS.filter((x) => x.name.includes(values.run))) {
    const spec = {
      body: JSON.stringify({ ...REQUEST, stream: r.stream }),
      headers: HEADERS,
      concurrency,
      warmupMs: 0,
      durationMs: 0,
      stream: r.stream,
    };
    for (const s of servers) {
      const server = await startCounted(s.kind, replyFile, s.root, values["main-thread"]);
      const url = new URL("/v1/messages", server.url).href;
      const warm = await load.run({ ...spec, url, requests: warmup });
      await run("callgrind_control", ["-i", "on", String(server.child.pid)]);
      const counted = await load.run({ ...spec, url, requests });
      await run("callgrind_control", ["-i", "off", String(server.child.pid)]);
      const { total, unsteady } = await stopCounted(server);
      if (warm.failures || counted.failures)
        throw new Error(`${s.name}: ${warm.failures + counted.failures} requests did not get a 200`);
      const all = total / counted.requests;
      const steady = (total - unsteady) / counted.requests;
      perRequest.set(`${r.name}|${s.name}`, all);
      perRequest.set(`${r.name}|${s.name}|steady`, steady);
      console.log(
        `${r.name.padEnd(5)} ${s.name.padEnd(8)} ${kilo(all)} k instructions per request, ${kilo(steady)} k steady (without garbage collection or optimising compilation)`,
      );
    }
  }
  await load.terminate();
  await rm(workDir, { recursive: true, force: true });
  const ratio = (run: string, a: string, b: string) => {
    const x = perRequest.get(`${run}|${a}`);
    const y = perRequest.get(`${run}|${b}`);
    const xm = perRequest.get(`${run}|${a}|steady`);
    const ym = perRequest.get(`${run}|${b}|steady`);
    if (x === undefined || y === undefined || xm === undefined || ym === undefined) return undefined;
    return `${(x / y).toFixed(2)}× (${(xm / ym).toFixed(2)}× steady)`;
  };
  for (const [a, b] of [
    ["fastify", "ceiling"],
    ["parley", "ceiling"],
    ["parley", "fastify"],
    ["parley", "base"],
  ] as const) {
    const lines = RUNS.flatMap((r) => {
      const x = ratio(r.name, a, b);
      return x ? [`${r.name.padEnd(5)} ${x} ${b}'s instructions per request`] : [];
    });
    if (lines.length) console.log(`\n${a} / ${b}\n${lines.join("\n")}`);
  }
}

const serveAt = process.argv.indexOf(SERVE_FLAG);
if (serveAt >= 0) {
  const [kind, replyFile, root] = process.argv.slice(serveAt + 1) as [Kind, string, string];
  await serve(kind, replyFile, root);
} else {
  await main();
}
