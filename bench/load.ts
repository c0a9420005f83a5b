/**
 * The closed-loop HTTP load generator the benchmarks share. It runs in a worker thread
 * (`startLoadWorker()`) or in a child process of its own (`startLoadProcess()`), so the server
 * measured on the main thread has that thread to itself. A child process also keeps its garbage
 * collection, allocator and libuv pool apart from the measured server's.
 */
import { type ChildProcess, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker } from "node:worker_threads";

export interface LoadSpec {
  url: string;
  body: string;
  headers: Record<string, string>;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Count SSE events in the replies. */
  stream?: boolean;
  /** Send exactly this many requests after the warm-up, instead of sending for `durationMs`. */
  requests?: number;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  p50: number;
  p99: number;
  events: number;
  failures: number;
  /** Share of the time the main thread's event loop was busy while the load ran. */
  elu: number;
  /** Requests sent during the warm-up, before the measured ones. */
  warmupRequests: number;
  /** CPU time of the main thread (Linux only, else NaN) over warm-up and measurement, ms. */
  mainCpuMs: number;
  /** The kernel's part of `mainCpuMs` (system calls: socket reads and writes, epoll), ms. */
  mainSysMs: number;
  /**
   * CPU time of the measuring process's other threads over the same time, ms: the servers' worker
   * threads (Parley's SQLite usage writer), V8's GC helpers, libuv's pool. Not on the measured
   * thread, but on a 2-core machine it takes cores from the load generator and the upstream.
   */
  otherCpuMs: number;
}

const perRequest = (ms: number, m: LoadResult) => (ms * 1000) / (m.requests + m.warmupRequests);

/** CPU the measured (main) thread spent per request, warm-up included, µs. */
export const cpuPerRequest = (m: LoadResult): number => perRequest(m.mainCpuMs, m);

/** Per request, µs: the measured thread's CPU, the kernel's part of it, the process's other threads. */
export const CPU_COLUMNS: readonly ((m: LoadResult) => number)[] = [
  cpuPerRequest,
  (m) => perRequest(m.mainSysMs, m),
  (m) => perRequest(m.otherCpuMs, m),
];

/** One request; resolves with whether it got a 200 and the number of SSE events in the reply. */
function request(spec: LoadSpec, agent: http.Agent): Promise<{ ok: boolean; events: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(spec.url, { method: "POST", agent, headers: spec.headers }, (res) => {
      let events = 0;
      let tail = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (!spec.stream) return;
        const text = tail + chunk;
        events += text.split("\n\n").length - 1;
        tail = text.slice(text.lastIndexOf("\n\n") + 2);
      });
      res.on("end", () => resolve({ ok: res.statusCode === 200, events }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(spec.body);
  });
}

/** `concurrency` clients, each sending its next request when the last one ends. */
type Round = Omit<LoadResult, "elu" | "warmupRequests" | CpuFields>;
type CpuFields = "mainCpuMs" | "mainSysMs" | "otherCpuMs";

async function drive(
  spec: LoadSpec,
  agent: http.Agent,
  limit: { ms: number } | { count: number },
): Promise<Round> {
  const latencies: number[] = [];
  let events = 0;
  let failures = 0;
  let sent = 0;
  const start = performance.now();
  const more = "count" in limit ? () => sent++ < limit.count : () => performance.now() < start + limit.ms;
  const client = async () => {
    while (more()) {
      const t0 = performance.now();
      const r = await request(spec, agent);
      latencies.push(performance.now() - t0);
      events += r.events;
      if (!r.ok) failures++;
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, client));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
  return { requests: latencies.length, seconds, p50: at(0.5), p99: at(0.99), events, failures };
}

type Driven = Omit<LoadResult, "elu" | CpuFields>;

/** Where the load runs: a worker thread or a child process, each one spec at a time. */
export interface LoadGenerator {
  run(spec: LoadSpec): Promise<Driven>;
  terminate(): Promise<unknown>;
}

const CHILD_FLAG = "--parley-load-generator";

export function startLoadWorker(): LoadGenerator {
  const worker = new Worker(new URL(import.meta.url));
  return {
    run: (spec) =>
      new Promise((resolve) => {
        worker.once("message", resolve);
        worker.postMessage(spec);
      }),
    terminate: () => worker.terminate(),
  };
}

/** The load generator in a child process (without the parent's flags, e.g. `--cpu-prof`). */
export function startLoadProcess(): LoadGenerator {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [CHILD_FLAG], {
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return {
    run: (spec) =>
      new Promise((resolve, reject) => {
        const onExit = (code: number | null) => reject(new Error(`load generator exited (${code})`));
        child.once("exit", onExit);
        child.once("message", (m) => {
          child.off("exit", onExit);
          resolve(m as Driven);
        });
        child.send(spec);
      }),
    terminate: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill();
      await exited;
    },
  };
}

/**
 * Warms up, then measures one spec in the load generator. `settle` runs after the load, inside the
 * CPU window: a server that writes its usage in batches flushes there, so its writer's CPU is
 * counted against its own requests, not against whichever server is measured next.
 */
export async function measure(
  load: LoadGenerator,
  spec: LoadSpec,
  settle?: () => Promise<unknown>,
): Promise<LoadResult> {
  const before = performance.eventLoopUtilization();
  const cpuBefore = cpuTimes();
  const result = await load.run(spec);
  await settle?.();
  const cpu = cpuTimes();
  const mainCpuMs = cpu.mainUserMs + cpu.mainSysMs - cpuBefore.mainUserMs - cpuBefore.mainSysMs;
  return {
    ...result,
    elu: performance.eventLoopUtilization(before).utilization,
    mainCpuMs,
    mainSysMs: cpu.mainSysMs - cpuBefore.mainSysMs,
    otherCpuMs: cpu.processMs - cpuBefore.processMs - mainCpuMs,
  };
}

/**
 * The main thread's user and system CPU time and the whole process's (all threads), ms, from /proc
 * (clock ticks, 100 per second on Linux); NaN elsewhere. Unlike wall time, CPU time hardly moves
 * when other processes load the machine, so per-request CPU compares servers fairly on a shared box.
 */
function cpuTimes(): { mainUserMs: number; mainSysMs: number; processMs: number } {
  const ticks = (path: string) => {
    const stat = readFileSync(path, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5).
    return { user: Number(fields[11]) * 10, sys: Number(fields[12]) * 10 };
  };
  try {
    const main = ticks(`/proc/self/task/${process.pid}/stat`);
    const all = ticks("/proc/self/stat");
    return { mainUserMs: main.user, mainSysMs: main.sys, processMs: all.user + all.sys };
  } catch {
    return { mainUserMs: Number.NaN, mainSysMs: Number.NaN, processMs: Number.NaN };
  }
}

async function warmThenDrive(spec: LoadSpec): Promise<Driven> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });
  const warm = await drive(spec, agent, { ms: spec.warmupMs });
  const result = await drive(
    spec,
    agent,
    spec.requests === undefined ? { ms: spec.durationMs } : { count: spec.requests },
  );
  agent.destroy();
  return { ...result, warmupRequests: warm.requests };
}

if (!isMainThread) {
  parentPort?.on("message", async (spec: LoadSpec) => parentPort?.postMessage(await warmThenDrive(spec)));
} else if (process.argv.includes(CHILD_FLAG)) {
  process.on("message", async (spec: LoadSpec) => process.send?.(await warmThenDrive(spec)));
  process.on("disconnect", () => process.exit(0));
}
