import type { Command } from "commander";
import { type Batch, BatchRepository, batchObject, systemClock } from "../batches/index.ts";
import { ConfigError, loadConfig } from "../config/index.ts";
import { Store } from "../store/index.ts";

interface StoreFlags {
  config?: string;
  dataDir?: string;
  json?: boolean;
}

type Print = (text: string) => void;

/**
 * `parley batches list|get|results|cancel`: message batches in the configured store, across every
 * workspace, without a running server (a running one stops a canceled batch's requests at its next
 * heartbeat).
 */
export function registerBatches(program: Command, print: Print = (t) => process.stdout.write(t)): void {
  const batches = program.command("batches").description("list, inspect, read and cancel message batches");
  const storeOptions = (c: Command) =>
    c
      .option("-c, --config <file>", "config file naming the storage (env PARLEY_CONFIG)")
      .option("--data-dir <dir>", "data dir holding the default SQLite store (env PARLEY_DATA_DIR)")
      .option("--json", "print JSON");

  storeOptions(
    batches
      .command("list")
      .description("list batches, newest first")
      .option("-l, --limit <n>", "how many (default 20)", (v) => Number(v)),
  ).action((flags: StoreFlags & { limit?: number }) =>
    withBatches(flags, async (repo, base) => {
      const page = await repo.list("all", { limit: flags.limit ?? 20 });
      if (flags.json)
        return print(
          `${JSON.stringify(
            page.data.map((b) => batchObject(b, base)),
            null,
            2,
          )}\n`,
        );
      if (page.data.length === 0) return print("No batches.\n");
      for (const b of page.data) print(`${summary(b)}\n`);
    }),
  );

  storeOptions(
    batches.command("get").description("show one batch and its request counts").argument("<id>", "batch id"),
  ).action((id: string, flags: StoreFlags) =>
    withBatches(flags, async (repo, base) => {
      const b = await existing(repo, id);
      const states = await repo.states(b.id);
      if (flags.json)
        return print(`${JSON.stringify({ ...batchObject(b, base), parley: { states } }, null, 2)}\n`);
      print(`${summary(b)}\n`);
      print(
        `  requests: ${
          Object.entries(states)
            .map(([s, n]) => `${s} ${n}`)
            .join(", ") || "none kept"
        }\n`,
      );
    }),
  );

  storeOptions(
    batches
      .command("results")
      .description("print an ended batch's results as JSONL")
      .argument("<id>", "batch id"),
  ).action((id: string, flags: StoreFlags) =>
    withBatches(flags, async (repo) => {
      const b = await existing(repo, id);
      if (b.processing_status !== "ended") throw new ConfigError(`batch ${b.id} has not ended yet`);
      if (b.archived_at !== null) throw new ConfigError(`the results of batch ${b.id} were archived`);
      for await (const r of repo.results(b.id)) {
        print(`{"custom_id":${JSON.stringify(r.custom_id)},"result":${r.result}}\n`);
      }
    }),
  );

  storeOptions(
    batches
      .command("cancel")
      .description("cancel a batch that is still running")
      .argument("<id>", "batch id"),
  ).action((id: string, flags: StoreFlags) =>
    withBatches(flags, async (repo, base) => {
      const b = await existing(repo, id);
      await repo.cancel(b.id, systemClock.now());
      const after = (await repo.get(b.id, "all")) ?? b;
      print(flags.json ? `${JSON.stringify(batchObject(after, base), null, 2)}\n` : `${summary(after)}\n`);
    }),
  );
}

function summary(b: Batch): string {
  const c = b.counts;
  const counts =
    b.processing_status === "ended"
      ? `succeeded ${c.succeeded}, errored ${c.errored}, canceled ${c.canceled}, expired ${c.expired}`
      : `${b.request_count} processing`;
  return `${b.id}  ${b.processing_status.padEnd(11)}  ${new Date(b.created_at).toISOString()}  ${counts}`;
}

async function existing(repo: BatchRepository, id: string): Promise<Batch> {
  const b = await repo.get(id, "all");
  if (!b) throw new ConfigError(`no batch with id ${id}`);
  return b;
}

async function withBatches(
  flags: StoreFlags,
  run: (repo: BatchRepository, baseUrl: string) => Promise<void>,
): Promise<void> {
  const config = await loadConfig({ config: flags.config, dataDir: flags.dataDir });
  const store = await Store.open(config.storage);
  const base = config.public_url ?? `http://${config.listen.host}:${config.listen.port}`;
  try {
    await run(new BatchRepository(store.db, store.dialect), base);
  } finally {
    await store.close();
  }
}
