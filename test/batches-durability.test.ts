/**
 * Batches survive `kill -9` and share work between instances: Parley runs as `parley serve` in
 * child processes (async, so the fake upstream in this process keeps answering), on SQLite and on
 * PostgreSQL in its own schema.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import type { ConfigFile } from "../src/config/index.ts";
import { openDatabase } from "../src/store/index.ts";
import { ask, resultsOf, waitForEnd } from "./helpers/batches.ts";
import { databaseKinds, openTestDatabase, PG_URL } from "./helpers/databases.ts";
import { TEST_KEY } from "./helpers/server.ts";

const MAIN = join(import.meta.dirname, "../src/cli/main.ts");
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const c of running) c.kill("SIGKILL");
});

interface Instance {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

async function writeConfig(dir: string, name: string, file: ConfigFile): Promise<string> {
  const path = join(dir, `${name}.json`);
  await writeFile(path, JSON.stringify(file));
  return path;
}

/** `parley serve --config FILE` in a child process; resolves once it logs its URL. */
function serve(configPath: string): Promise<Instance> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, "serve", "--config", configPath], { env: process.env });
    running.add(child);
    const exited = new Promise<number | null>((r) =>
      child.on("close", (code) => {
        running.delete(child);
        r(code);
      }),
    );
    let out = "";
    const timer = setTimeout(() => reject(new Error(`parley did not start: ${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d;
      const m = /"url":"(http:[^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], exited });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (d) => (out += d));
    child.on("close", () => reject(new Error(`parley exited: ${out}`)));
  });
}

/** Output on stdout of a `parley` command (async child process). */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const sdk = (url: string) => new Anthropic({ apiKey: TEST_KEY, baseURL: url, maxRetries: 2 });

describe.each(databaseKinds)("kill -9 during a batch (%s)", (kind) => {
  it("restarts and ends every request exactly once; the CLI reads the same store", async () => {
    const db = await openTestDatabase(kind);
    const dir = await mkdtemp(join(tmpdir(), "parley-kill-"));
    try {
      const config = await writeConfig(dir, "parley", {
        log_level: "info",
        storage: db.url,
        data_dir: join(dir, "data"),
        listen: { host: "127.0.0.1", port: 0 },
        keys: [{ key: TEST_KEY, name: "test" }],
        models: [{ id: "mock", provider: "mock", parallel: 4, batch_parallel: 4 }],
        batches: { poll_interval_ms: 20, lease_ms: 1000 },
      });
      const first = await serve(config);
      const requests = Array.from({ length: 120 }, (_, i) => ({
        custom_id: `k${i}`,
        params: ask(`[[delay:15]] request ${i} of the batch`),
      }));
      const created = await sdk(first.url).messages.batches.create({ requests });
      await new Promise((r) => setTimeout(r, 700));
      first.child.kill("SIGKILL");
      await first.exited;

      const opened = await openDatabase(db.url);
      const states = await opened.db
        .selectFrom("batch_requests")
        .select(["state", sql<number>`count(*)`.as("n")])
        .groupBy("state")
        .execute();
      await opened.close();
      const count = (s: string) => Number(states.find((r) => r.state === s)?.n ?? 0);
      // It died mid-run: some requests done, some in flight (their leases die with it), some not started.
      expect(count("succeeded")).toBeGreaterThan(0);
      expect(count("running")).toBeGreaterThan(0);
      expect(count("pending")).toBeGreaterThan(0);

      const second = await serve(config);
      const ended = await waitForEnd(sdk(second.url), created.id, 60_000);
      expect(ended.request_counts).toEqual({
        processing: 0,
        succeeded: 120,
        errored: 0,
        canceled: 0,
        expired: 0,
      });
      const lines = await resultsOf(sdk(second.url), created.id);
      const ids = lines.map((l) => l.custom_id).sort();
      expect(ids).toEqual(requests.map((r) => r.custom_id).sort());
      expect(new Set(ids).size).toBe(120);

      const list = await cli(["batches", "list", "--config", config]);
      expect(list.stdout).toContain(created.id);
      expect(list.stdout).toContain("succeeded 120, errored 0, canceled 0, expired 0");
      const results = await cli(["batches", "results", created.id, "--config", config]);
      expect(results.stdout.trim().split("\n")).toHaveLength(120);
      const get = await cli(["batches", "get", created.id, "--config", config, "--json"]);
      expect(JSON.parse(get.stdout)).toMatchObject({ id: created.id, processing_status: "ended" });

      const parked = await sdk(second.url).messages.batches.create({
        requests: [{ custom_id: "slow", params: ask("[[delay:20000]] a slow one that is canceled") }],
      });
      const canceled = await cli(["batches", "cancel", parked.id, "--config", config]);
      expect(canceled.code).toBe(0);
      expect(canceled.stdout).toContain(parked.id);
      const after = await waitForEnd(sdk(second.url), parked.id, 20_000);
      expect(after.request_counts, canceled.stdout + canceled.stderr).toMatchObject({ canceled: 1 });
    } finally {
      for (const c of running) c.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, 200));
      await rm(dir, { recursive: true, force: true });
      await db.drop();
    }
  }, 120_000);
});

describe.skipIf(!PG_URL)("two instances on one PostgreSQL", () => {
  it("finish one 1,000-request batch together without running any request twice", async () => {
    const seen = new Map<string, number>();
    const byInstance = new Map<string, number>();
    const upstream = http.createServer((req, res) => {
      let text = "";
      req.on("data", (d) => (text += d));
      req.on("end", () => {
        const body = JSON.parse(text) as { messages: { content: string | { text?: string }[] }[] };
        const content = body.messages.at(-1)?.content ?? "";
        const prompt = typeof content === "string" ? content : content.map((p) => p.text ?? "").join("");
        seen.set(prompt, (seen.get(prompt) ?? 0) + 1);
        const who = String(req.headers["x-parley-instance"]);
        byInstance.set(who, (byInstance.get(who) ?? 0) + 1);
        // Each reply takes 20 ms, so the batch lasts past an idle instance's 1 s poll (b learns of
        // a batch created on a only then): answered at once, a alone could finish all 1000 first.
        setTimeout(() => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              id: "chatcmpl-1",
              object: "chat.completion",
              created: 1764000000,
              model: "qwen",
              choices: [
                {
                  index: 0,
                  message: { role: "assistant", content: `done: ${prompt}` },
                  finish_reason: "stop",
                },
              ],
              usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
            }),
          );
        }, 20);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const db = await openTestDatabase("postgres");
    const dir = await mkdtemp(join(tmpdir(), "parley-two-"));
    const file = (name: string): ConfigFile => ({
      log_level: "info",
      storage: db.url,
      data_dir: join(dir, name),
      listen: { host: "127.0.0.1", port: 0 },
      keys: [{ key: TEST_KEY, name: "test" }],
      models: [
        {
          id: "vllm",
          provider: "openai",
          base_url: `${origin}/v1`,
          upstream_model: "qwen",
          headers: { "x-parley-instance": name },
          health_check_ms: 0,
          tokenize: "estimate",
          batch_parallel: 8,
        },
      ],
      batches: { poll_interval_ms: 20, lease_ms: 3000 },
    });
    try {
      const a = await serve(await writeConfig(dir, "a", file("a")));
      const b = await serve(await writeConfig(dir, "b", file("b")));
      const requests = Array.from({ length: 1000 }, (_, i) => ({
        custom_id: `j${i}`,
        params: { ...ask(`job-${i}`), model: "vllm" },
      }));
      const created = await sdk(a.url).messages.batches.create({ requests });
      const ended = await waitForEnd(sdk(b.url), created.id, 90_000);
      expect(ended.request_counts.succeeded).toBe(1000);
      expect(seen.size).toBe(1000);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(byInstance.get("a")).toBeGreaterThan(0);
      expect(byInstance.get("b")).toBeGreaterThan(0);
      const lines = await resultsOf(sdk(a.url), created.id);
      expect(new Set(lines.map((l) => l.custom_id)).size).toBe(1000);
    } finally {
      for (const c of running) c.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, 200));
      await new Promise((r) => upstream.close(r));
      await rm(dir, { recursive: true, force: true });
      await db.drop();
    }
  }, 150_000);
});
