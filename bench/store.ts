/**
 * Usage-recording benchmark (`npm run bench:store`): Parley with a mock model and keys from the
 * database, measured with usage recording off (records discarded) and on (batched into SQLite, and
 * PostgreSQL when PARLEY_TEST_PG_URL is set), in one run by the same load generator. Rounds alternate
 * between the setups so drift hits them alike. Prints requests/s, p50/p99 and the ratio to "off".
 *
 * Then, with no server: what one `record()` costs while the database is unreachable and the
 * buffer is full (records dropped), against the same while it still has room, in the same run.
 *
 * Then: the CPU per usage row written to SQLite (record, batch, the writer thread's insert) as
 * the table grows, with request ids as Parley issues them (time first) against random ones (as
 * before 2026-12-03), the two tables filled in alternating steps.
 *
 * Options: --seconds N (per measurement, default 3), --rounds N (default 2), --concurrency N
 * (default 32), --grow-rows N (rows per table in the growth test, default 600000; 0 skips it).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type LoadResult, measure, startLoadWorker } from "./load.ts";

const KEY = "sk-bench-store-0001";
const BODY = JSON.stringify({
  model: "mock",
  max_tokens: 32,
  messages: [{ role: "user", content: "Name three rivers in Europe, briefly." }],
});
const HEADERS = { "content-type": "application/json", "x-api-key": KEY, "anthropic-version": "2023-06-01" };

interface Setup {
  name: string;
  url: string;
  rows(): Promise<number>;
  close(): Promise<void>;
}

async function startSetup(name: string, storage: string, record: boolean, dataDir: string): Promise<Setup> {
  const { buildConfig } = await import("../src/config/index.ts");
  const { startServer } = await import("../src/server/index.ts");
  const { Store, discardUsage } = await import("../src/store/index.ts");
  const { MemoryLimiter } = await import("../src/limits/index.ts");
  const config = buildConfig(
    {
      log_level: "warn",
      listen: { host: "127.0.0.1", port: 0 },
      data_dir: dataDir,
      storage,
      keys: [{ key: KEY, name: "bench" }],
      models: [{ id: "mock", provider: "mock" }],
    },
    {},
    {},
    "bench config",
  );
  const store = await Store.open(storage, { configKeys: config.keys });
  const server = await startServer(config, {
    keyStore: store.keyStore,
    limiter: new MemoryLimiter(),
    recorder: record ? store.recorder : discardUsage,
  });
  return {
    name,
    url: `${server.url}/v1/messages`,
    async rows() {
      await store.recorder.flush();
      const r = await store.db
        .selectFrom("usage")
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },
    async close() {
      await server.close();
      await store.close();
    },
  };
}

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    rounds: { type: "string", default: "2" },
    concurrency: { type: "string", default: "32" },
    "grow-rows": { type: "string", default: "600000" },
  },
});

async function main(): Promise<void> {
  const durationMs = Number(values.seconds) * 1000;
  const rounds = Number(values.rounds);
  const concurrency = Number(values.concurrency);
  const dir = await mkdtemp(join(tmpdir(), "parley-bench-store-"));
  const pgUrl = process.env.PARLEY_TEST_PG_URL;
  const setups: Setup[] = [
    await startSetup("recording off", `sqlite:${join(dir, "off.db")}`, false, join(dir, "off")),
    await startSetup("recording on (sqlite)", `sqlite:${join(dir, "on.db")}`, true, join(dir, "on")),
  ];
  let pgSchema: string | undefined;
  if (pgUrl) {
    pgSchema = `parley_bench_${process.pid}`;
    const url = new URL(pgUrl);
    url.searchParams.set("schema", pgSchema);
    setups.push(await startSetup("recording on (postgres)", url.toString(), true, join(dir, "pg")));
  }
  const worker = startLoadWorker();
  const totals = new Map<string, LoadResult[]>(setups.map((s) => [s.name, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const s of round % 2 ? [...setups].reverse() : setups) {
        const r = await measure(worker, {
          url: s.url,
          body: BODY,
          headers: HEADERS,
          concurrency,
          warmupMs: 500,
          durationMs,
        });
        if (r.failures) throw new Error(`${s.name}: ${r.failures} requests failed`);
        totals.get(s.name)?.push(r);
      }
    }
    const rps = (rs: LoadResult[]) =>
      rs.reduce((n, r) => n + r.requests, 0) / rs.reduce((n, r) => n + r.seconds, 0);
    const base = rps(totals.get("recording off") ?? []);
    console.log(
      `bench:store  mock model, JSON replies, concurrency ${concurrency}, ${rounds} x ${values.seconds}s per setup, node ${process.version}`,
    );
    console.log(
      `${"setup".padEnd(26)}${"req/s".padStart(10)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"vs off".padStart(9)}${"rows".padStart(9)}`,
    );
    for (const s of setups) {
      const rs = totals.get(s.name) ?? [];
      const r = rps(rs);
      const p50 = Math.max(...rs.map((x) => x.p50));
      const p99 = Math.max(...rs.map((x) => x.p99));
      console.log(
        `${s.name.padEnd(26)}${r.toFixed(0).padStart(10)}${p50.toFixed(2).padStart(9)}${p99.toFixed(2).padStart(9)}${(r / base).toFixed(3).padStart(9)}${String(await s.rows()).padStart(9)}`,
      );
    }
  } finally {
    await worker.terminate();
    for (const s of setups) await s.close();
    if (pgUrl && pgSchema) {
      const pg = (await import("pg")).default;
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      await client.query(`drop schema if exists ${pgSchema} cascade`);
      await client.end();
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/** µs per `record()` with the database down: while the buffer has room, and once it is full. */
async function recordWhileDown(): Promise<void> {
  const { BatchedUsageRecorder } = await import("../src/store/index.ts");
  const maxBuffered = 100_000;
  const recorder = new BatchedUsageRecorder(undefined as never, {
    maxBuffered,
    maxBatch: Number.MAX_SAFE_INTEGER,
    flushIntervalMs: 3_600_000,
    logger: { warn() {}, error() {} },
    write: async () => {
      throw new Error("database unreachable");
    },
  });
  const { usageRecord } = await import("../test/helpers/usage-record.ts");
  const timed = (from: number, n: number) => {
    const started = performance.now();
    for (let i = from; i < from + n; i++) recorder.record(usageRecord({ request_id: `req_${i}` }));
    return ((performance.now() - started) * 1000) / n;
  };
  const withRoom = timed(0, maxBuffered / 2);
  timed(maxBuffered / 2, maxBuffered / 2); // now full
  const full = timed(maxBuffered, 20_000);
  console.log(
    `\nrecord() with the database down: ${withRoom.toFixed(2)} µs while the buffer has room, ` +
      `${full.toFixed(2)} µs once it is full (${(full / withRoom).toFixed(2)}×; ${recorder.stats().dropped} dropped)`,
  );
  await recorder.close();
}

/**
 * CPU per usage row (this process, writer thread included) while two SQLite tables grow in
 * alternating steps: one keyed by request ids as issued, one by random ids of the same shape.
 */
async function growingTable(totalRows: number): Promise<void> {
  const { Store } = await import("../src/store/index.ts");
  const { newRequestId } = await import("../src/protocol/index.ts");
  const { usageRecord } = await import("../test/helpers/usage-record.ts");
  const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const randomId = () => `req_01${Array.from(randomBytes(22), (b) => ALPHABET[b % 62]).join("")}`;
  const dir = await mkdtemp(join(tmpdir(), "parley-bench-grow-"));
  const kinds = [
    { name: "as issued", id: newRequestId, store: await Store.open(`sqlite:${join(dir, "issued.db")}`) },
    { name: "random", id: randomId, store: await Store.open(`sqlite:${join(dir, "random.db")}`) },
  ];
  const stepRows = 100_000;
  console.log(`
usage rows into a growing SQLite table, CPU µs per row (this process, writer thread included)`);
  console.log(
    `${"rows before".padStart(12)}${"as issued".padStart(11)}${"random".padStart(9)}  random / as issued`,
  );
  try {
    for (let before = 0; before < totalRows; before += stepRows) {
      const perRow = new Map<string, number>();
      for (const kind of before % (2 * stepRows) ? [...kinds].reverse() : kinds) {
        const cpu = process.cpuUsage();
        for (let i = 0; i < stepRows; i++) kind.store.recorder.record(usageRecord({ request_id: kind.id() }));
        await kind.store.recorder.flush();
        const used = process.cpuUsage(cpu);
        perRow.set(kind.name, (used.user + used.system) / stepRows);
      }
      const issued = perRow.get("as issued") ?? Number.NaN;
      const random = perRow.get("random") ?? Number.NaN;
      console.log(
        `${String(before).padStart(12)}${issued.toFixed(2).padStart(11)}${random.toFixed(2).padStart(9)}  ${(random / issued).toFixed(2)}×`,
      );
    }
  } finally {
    for (const kind of kinds) await kind.store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
await recordWhileDown();
const growRows = Number(values["grow-rows"]);
if (growRows > 0) await growingTable(growRows);
