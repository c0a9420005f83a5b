/**
 * Batch benchmark (`npm run bench:batch`): what a large batch running on a model costs the
 * interactive requests to the same model. In one run, the same closed-loop load generator measures
 * interactive latency on a mock model with 4 slots and a per-token delay (a stand-in for a real
 * model's generation steps), first alone, then while a large batch runs on that model, and prints
 * p50/p99 for both, their ratio, and the batch's requests/s (while sharing the model, then alone).
 *
 * Parley runs on the main thread (with its batch worker), the load generator in a worker thread.
 * Options: --seconds N (per measurement, default 4), --warmup N (1), --batch N (requests, 2000),
 * --concurrency N (interactive clients, default 2).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { measure, startLoadWorker } from "./load.ts";

const KEY = "sk-bench-batch-0001";
/** Each streamed delta waits this long: ~8 deltas ≈ a 25 ms generation. */
const PROMPT = "[[delay:3]] Summarise the plot of Hamlet in two short plain sentences.";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "4" },
    warmup: { type: "string", default: "1" },
    batch: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "2" },
  },
});

const { buildConfig } = await import("../src/config/index.ts");
const { startServer } = await import("../src/server/index.ts");
const dir = await mkdtemp(join(tmpdir(), "parley-bench-batch-"));
const config = buildConfig(
  {
    log_level: "warn",
    data_dir: dir,
    listen: { host: "127.0.0.1", port: 0 },
    keys: [{ key: KEY, name: "bench" }],
    models: [{ id: "mock", provider: "mock", parallel: 4, max_queue: 64, batch_parallel: 4 }],
    batches: { poll_interval_ms: 50 },
  },
  {},
  {},
  "bench",
);
const server = await startServer(config);
const headers = { "content-type": "application/json", "x-api-key": KEY, "anthropic-version": "2023-06-01" };
const body = { model: "mock", max_tokens: 64, messages: [{ role: "user", content: PROMPT }] };
const durationMs = Number(values.seconds) * 1000;
const warmupMs = Number(values.warmup) * 1000;
const batchSize = Number(values.batch);
const concurrency = Number(values.concurrency);
const worker = startLoadWorker();
const spec = {
  url: `${server.url}/v1/messages`,
  body: JSON.stringify(body),
  headers,
  concurrency,
  warmupMs,
  durationMs,
};

const api = async (method: string, path: string, payload?: unknown) => {
  const res = await fetch(server.url + path, {
    method,
    headers,
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  return (await res.json()) as {
    id: string;
    processing_status: string;
    ended_at: string | null;
    created_at: string;
    request_counts: Record<string, number>;
  };
};
const createBatch = () =>
  api("POST", "/v1/messages/batches", {
    requests: Array.from({ length: batchSize }, (_, i) => ({ custom_id: `b${i}`, params: body })),
  });
const waitForEnd = async (id: string) => {
  for (;;) {
    const b = await api("GET", `/v1/messages/batches/${id}`);
    if (b.processing_status === "ended") return b;
    await new Promise((r) => setTimeout(r, 100));
  }
};
const batchRate = (b: { created_at: string; ended_at: string | null }) =>
  batchSize / ((Date.parse(b.ended_at ?? b.created_at) - Date.parse(b.created_at)) / 1000);

console.log(
  `Parley batch benchmark: Node ${process.version}, ${availableParallelism()} CPUs (load average ${loadavg()[0].toFixed(2)} before the run); ` +
    `mock model, 4 slots, ~25 ms per reply; ${concurrency} interactive clients, ${warmupMs / 1000} s warm-up + ${durationMs / 1000} s per run; batch of ${batchSize}\n`,
);

const alone = await measure(worker, spec);
const shared = await createBatch();
const during = await measure(worker, spec);
const stillRunning = (await api("GET", `/v1/messages/batches/${shared.id}`)).processing_status !== "ended";
const sharedEnd = await waitForEnd(shared.id);
const soloStart = await createBatch();
const soloEnd = await waitForEnd(soloStart.id);

const row = (name: string, r: typeof alone) =>
  `${name.padEnd(22)} ${(r.requests / r.seconds).toFixed(1).padStart(8)} ${r.p50.toFixed(1).padStart(9)} ${r.p99.toFixed(1).padStart(9)}`;
console.log(`${"interactive".padEnd(22)}    req/s    p50 ms    p99 ms`);
console.log(row("no batch", alone));
console.log(row("batch running", during));
console.log(
  `\ninteractive p50 with a batch running: ${(during.p50 / alone.p50).toFixed(2)} x without; p99: ${(during.p99 / alone.p99).toFixed(2)} x (aim ≤ 1.2)`,
);
console.log(
  `batch: ${batchRate(sharedEnd).toFixed(1)} requests/s while sharing the model with interactive load, ${batchRate(soloEnd).toFixed(1)} requests/s alone` +
    ` (${sharedEnd.request_counts.succeeded}/${batchSize} and ${soloEnd.request_counts.succeeded}/${batchSize} succeeded)`,
);
if (!stillRunning) console.log("note: the batch ended before the measurement did; use a larger --batch");
if (alone.failures + during.failures > 0) {
  console.log(`\n${alone.failures + during.failures} interactive requests failed: the figures are not valid`);
}
await worker.terminate();
await server.close();
await rm(dir, { recursive: true, force: true });
