/**
 * HTTP benchmark (`npm run bench:http`): Parley with a mock model against a bare node:http server
 * that answers with the same bytes (the ceiling), measured in one run by the same load generator.
 *
 * The servers run on this thread; the load generator runs in a child process (its own event
 * loop, heap and GC), keeping connections alive. The two servers are measured interleaved
 * (ceiling, parley, parley, ceiling, …) over `--repeat` rounds, and each ratio is the median of
 * the per-round ratios, so load from other work on the machine hits both alike. Reported:
 * requests/s, p50/p99 latency, SSE events/s, how busy the server thread was (event-loop
 * utilisation) and its CPU per request, with the kernel's part of it (sys) and the CPU the
 * process's other threads used per request (Parley's SQLite usage writer, GC helpers), with
 * Parley's ratios to the ceiling.
 *
 * Options: --seconds N (per measurement, default 1), --warmup N (default 0.3), --repeat N (rounds,
 * default 3), --run TEXT (only runs whose name contains TEXT, e.g. "json c=64"), --only
 * parley|ceiling (one server, no ratios; for profiling:
 * `node --cpu-prof --cpu-prof-dir=prof bench/http.ts --only parley --run "json c=64"`). --compare DIR
 * adds "base": Parley from another checkout (its src/ with node_modules linked), in the same run.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { CPU_COLUMNS, cpuPerRequest, type LoadResult, measure, startLoadProcess } from "./load.ts";
import {
  HEADERS,
  LOG_LEVEL,
  REQUEST,
  sampleReply,
  startCeiling,
  startFastify,
  startParley,
} from "./servers.ts";

// ---------------------------------------------------------------- report

const RUNS = [
  { name: "json c=1", stream: false, concurrency: 1 },
  { name: "json c=64", stream: false, concurrency: 64 },
  { name: "sse c=1", stream: true, concurrency: 1 },
  { name: "sse c=64", stream: true, concurrency: 64 },
];

const fmt = (n: number, digits = 0) => n.toFixed(digits).padStart(9);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
/** Requests/s, or for SSE events/s. */
const rate = (m: LoadResult) => (m.events || m.requests) / m.seconds;

function row(run: string, server: string, ms: LoadResult[]): string {
  const rps = median(ms.map((m) => m.requests / m.seconds));
  const eps = median(ms.map((m) => m.events / m.seconds));
  return `${run.padEnd(11)} ${server.padEnd(8)} ${fmt(rps)} ${fmt(median(ms.map((m) => m.p50)), 3)} ${fmt(median(ms.map((m) => m.p99)), 3)} ${eps ? fmt(eps) : "        -"} ${fmt(median(ms.map((m) => m.elu)) * 100)}% ${CPU_COLUMNS.map((f) => fmt(median(ms.map(f)))).join(" ")}`;
}

/** Median over rounds of parley / ceiling; the aim (issue 14) is ≥ 0.7× at 64 connections. */
function ratios(run: string, ceiling: LoadResult[], parley: LoadResult[]): string {
  const ratio = median(parley.map((m, i) => rate(m) / rate(ceiling[i] as LoadResult)));
  const added = median(parley.map((m, i) => m.p99 - (ceiling[i] as LoadResult).p99));
  const cpu = median(parley.map((m, i) => cpuPerRequest(m) / cpuPerRequest(ceiling[i] as LoadResult)));
  const unit = parley[0]?.events ? "events/s" : "req/s";
  const aim = run.includes("c=64") ? (ratio >= 0.7 ? "  meets the 0.7× aim" : "  MISSES the 0.7× aim") : "";
  return `${run.padEnd(11)} ${unit.padEnd(8)} ${ratio.toFixed(2)}× ceiling   p99 ${added >= 0 ? "+" : ""}${added.toFixed(3)} ms   ${cpu.toFixed(2)}× ceiling CPU per request${aim}`;
}

/** Metrics on vs off (issue 12): medians over rounds of the per-round rate and CPU ratios. */
function versus(run: string, on: LoadResult[], off: LoadResult[], label: string): string {
  const ratio = median(on.map((m, i) => rate(m) / rate(off[i] as LoadResult)));
  const cpu = median(on.map((m, i) => cpuPerRequest(m) / cpuPerRequest(off[i] as LoadResult)));
  return `${run.padEnd(11)} ${ratio.toFixed(2)}× ${label} rate   ${cpu.toFixed(2)}× ${label} CPU per request`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "1" },
      warmup: { type: "string", default: "0.3" },
      repeat: { type: "string", default: "3" },
      run: { type: "string", default: "" },
      only: { type: "string" },
      compare: { type: "string" },
    },
  });
  const durationMs = Number(values.seconds) * 1000;
  const warmupMs = Number(values.warmup) * 1000;
  const rounds = Math.max(1, Number(values.repeat));
  const dataDir = await mkdtemp(join(tmpdir(), "parley-bench-"));
  const parley = await startParley(dataDir);
  const json = await sampleReply(parley.url, false);
  const sse = (await sampleReply(parley.url, true)).split(/(?<=\n\n)/);
  const ceiling = await startCeiling(json, sse);
  const fastify = await startFastify(json, sse);
  const baseDir = values.compare === undefined ? undefined : await mkdtemp(join(tmpdir(), "parley-bench-"));
  const base =
    values.compare === undefined || baseDir === undefined
      ? undefined
      : await startParley(baseDir, pathToFileURL(resolve(values.compare)).href);
  const measured = (name: string) => !values.only || values.only.split(",").includes(name);
  // The same Parley with `metrics.enabled: false`, measured in the same rounds: what metrics cost.
  // Started only when measured (`--only` may leave it out).
  const noMetricsDir = measured("no-metr")
    ? await mkdtemp(join(tmpdir(), "parley-bench-nometrics-"))
    : undefined;
  const noMetrics = noMetricsDir ? await startParley(noMetricsDir, "..", { enabled: false }) : undefined;
  const servers = [
    { name: "ceiling", url: ceiling.url },
    { name: "fastify", url: fastify.url },
    { name: "parley", url: parley.url, settle: parley.settle },
    ...(noMetrics ? [{ name: "no-metr", url: noMetrics.url, settle: noMetrics.settle }] : []),
    ...(base ? [{ name: "base", url: base.url, settle: base.settle }] : []),
  ].filter((s) => measured(s.name));
  const load = startLoadProcess();

  console.log(
    `Parley HTTP benchmark: Node ${process.version}, ${availableParallelism()} CPUs ` +
      `(load average ${loadavg()[0].toFixed(2)} before the run: other work skews the figures), loopback, keep-alive; ` +
      `${rounds} interleaved rounds of ${warmupMs / 1000} s warm-up + ${durationMs / 1000} s per server and run; figures are medians over the rounds\n` +
      `parley: startServer, mock model, log_level ${LOG_LEVEL}; ceiling: bare node:http sending the same bytes ` +
      `(${json.length} B JSON, ${sse.length} SSE events)\n`,
  );
  const runs = RUNS.filter((r) => r.name.includes(values.run));
  const results = new Map<string, LoadResult[]>();
  let failures = 0;
  for (let round = 0; round < rounds; round++) {
    for (const run of runs) {
      const spec = {
        body: JSON.stringify({ ...REQUEST, stream: run.stream }),
        headers: HEADERS,
        concurrency: run.concurrency,
        warmupMs,
        durationMs,
        stream: run.stream,
      };
      // Odd rounds go the other way round, so neither server always runs second.
      for (const server of round % 2 ? [...servers].reverse() : servers) {
        const m = await measure(
          load,
          { ...spec, url: server.url },
          "settle" in server ? server.settle : undefined,
        );
        failures += m.failures;
        const key = `${run.name}|${server.name}`;
        results.set(key, [...(results.get(key) ?? []), m]);
      }
    }
  }
  console.log(
    `${"run".padEnd(11)} ${"server".padEnd(8)}     req/s    p50 ms    p99 ms  events/s  server busy  CPU µs/req       sys   threads`,
  );
  for (const run of runs)
    for (const server of servers)
      console.log(row(run.name, server.name, results.get(`${run.name}|${server.name}`) ?? []));
  for (const name of ["fastify", "parley", "base"]) {
    const pairs = runs.flatMap((run) => {
      const c = results.get(`${run.name}|ceiling`);
      const p = results.get(`${run.name}|${name}`);
      return c && p ? [ratios(run.name, c, p)] : [];
    });
    if (pairs.length) console.log(`\n${name} / ceiling, median over rounds (aim: ≥ 0.7× at 64 connections)`);
    for (const line of pairs) console.log(line);
  }
  const compared = (other: string, label: string) =>
    runs.flatMap((run) => {
      const o = results.get(`${run.name}|${other}`);
      const p = results.get(`${run.name}|parley`);
      return o && p ? [versus(run.name, p, o, label)] : [];
    });
  const versusMetricsOff = compared("no-metr", "metrics-off");
  if (versusMetricsOff.length)
    console.log(
      "\nmetrics on / off (parley vs the same server with metrics.enabled: false), median over rounds",
    );
  for (const line of versusMetricsOff) console.log(line);
  const versusBase = compared("base", "base");
  if (versusBase.length)
    console.log(`\nparley / base (Parley as checked out at ${values.compare}), median over rounds`);
  for (const line of versusBase) console.log(line);
  if (failures) console.log(`\n${failures} requests did not get a 200: the figures above are not valid`);

  await load.terminate();
  await Promise.all([ceiling.close(), fastify.close(), parley.close(), noMetrics?.close(), base?.close()]);
  await rm(dataDir, { recursive: true, force: true });
  if (noMetricsDir) await rm(noMetricsDir, { recursive: true, force: true });
  if (baseDir) await rm(baseDir, { recursive: true, force: true });
  process.exitCode = failures ? 1 : 0;
}

await main();
