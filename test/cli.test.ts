import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSse } from "./helpers/server.ts";

const MAIN = join(import.meta.dirname, "../src/cli/main.ts");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-cli-"));
});
/** Every child this file started, killed by PID at the end whatever a test did (a start that timed out, a failed assertion). */
const spawned = new Set<ChildProcess>();
function killPid(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
}
afterAll(async () => {
  for (const child of spawned)
    if (child.pid && child.exitCode === null && child.signalCode === null) killPid(child.pid);
  await rm(dir, { recursive: true, force: true });
});

function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, cwd: dir });
    spawned.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `parley serve` and resolves once it logs its URL. */
function serve(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  nodeFlags: string[] = [],
): Promise<{ child: ChildProcess; url: string; output: string; exited: Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, MAIN, "serve", ...args], {
      env: { ...process.env, ...env },
      cwd: dir,
    });
    spawned.add(child);
    const exited = new Promise<number | null>((r) => child.on("close", r));
    let out = "";
    const timer = setTimeout(() => {
      if (child.pid) killPid(child.pid);
      reject(new Error(`server did not start: ${out}`));
    }, 15_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /"url":"(http:[^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], output: out, exited });
      }
    });
    child.stderr.on("data", (d) => (out += d));
  });
}

describe("parley CLI", () => {
  it("--help describes the commands and options", async () => {
    const top = await run(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Usage: parley/);
    expect(top.stdout).toMatch(/serve/);
    const help = await run(["serve", "--help"]);
    expect(help.stdout).toMatch(/--config <file>/);
    expect(help.stdout).toMatch(/--data-dir <dir>/);
  });

  it("names the file and the field of a bad config", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(file, "listen:\n  port: 99999\n");
    const res = await run(["serve", "--config", file]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(file);
    expect(res.stderr).toMatch(/listen\.port: Input should be less than or equal to 65535/);
    await writeFile(file, "models:\n  - id: x\n    provider: llama\n");
    const missing = await run(["serve", "--config", file]);
    expect(missing.stderr).toMatch(/models\.0\.path: Field required/);
    await writeFile(file, "models:\n  - id: x\n    provider: mock\n    colour: red\n");
    const extra = await run(["serve", "--config", file]);
    expect(extra.stderr).toMatch(/models\.0/);
    expect(extra.stderr).toMatch(/models\.0\.colour: Extra inputs are not permitted/);
  });

  it("reports a missing config file", async () => {
    const res = await run(["serve"], { PARLEY_CONFIG: join(dir, "nope.yaml") });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/Cannot read config file .*nope\.yaml: ENOENT/);
  });

  it("serves with env overrides and finishes in-flight replies on SIGTERM, exiting 0", async () => {
    const file = join(dir, "ok.json");
    await writeFile(
      file,
      JSON.stringify({
        keys: [{ key: "sk-cli-test-1", name: "cli" }],
        models: [{ id: "mock", provider: "mock" }],
      }),
    );
    const { child, url, exited } = await serve(["--config", file, "--host", "127.0.0.1"], {
      PARLEY_PORT: "0",
      PARLEY_DATA_DIR: join(dir, "data"),
    });
    const inflight = fetch(`${url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": "sk-cli-test-1", "content-type": "application/json" },
      body: JSON.stringify({
        model: "mock",
        max_tokens: 50,
        stream: true,
        messages: [{ role: "user", content: "[[delay:60]] one two three four five" }],
      }),
    }).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 100));
    child.kill("SIGTERM");
    const events = parseSse(await inflight);
    expect(events.at(-1)?.event).toBe("message_stop");
    expect(await exited).toBe(0);
  });

  it("creates a key on first start without any key, prints it once, and stores only its hash", async () => {
    const env = { PARLEY_PORT: "0", PARLEY_DATA_DIR: join(dir, "boot") };
    const ask = (url: string, key: string) =>
      fetch(`${url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json" },
        body: JSON.stringify({ model: "mock", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }),
      }).then((r) => r.status);
    const first = await serve([], env);
    const key = /sk-parley-[A-Za-z0-9_-]+/.exec(first.output)?.[0] as string;
    expect(key).toBeDefined();
    expect(await ask(first.url, key)).toBe(200);
    first.child.kill("SIGTERM");
    await first.exited;
    const stored = await readFile(join(dir, "boot", "parley.db"));
    expect(stored.includes(key)).toBe(false);
    const second = await serve([], env);
    expect(second.output).not.toMatch(/sk-parley-/);
    expect(await ask(second.url, key)).toBe(200);
    expect(await ask(second.url, "sk-parley-wrong")).toBe(401);
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  });

  it("starts and records usage under Node flags a worker refuses when given them (GC, stack size, heap)", async () => {
    const file = join(dir, "flags.json");
    await writeFile(
      file,
      JSON.stringify({
        keys: [{ key: "sk-cli-flags-1", name: "flags" }],
        models: [{ id: "mock", provider: "mock" }],
      }),
    );
    const data = join(dir, "flags");
    // Each of these made the usage writer's worker refuse to start, and so the server.
    const flags = [
      "--expose-gc",
      "--stack-size=2000",
      "--abort-on-uncaught-exception",
      "--max-old-space-size=512",
    ];
    const { child, url, exited } = await serve(
      ["--config", file, "--host", "127.0.0.1"],
      { PARLEY_PORT: "0", PARLEY_DATA_DIR: data },
      flags,
    );
    const res = await fetch(`${url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": "sk-cli-flags-1", "content-type": "application/json" },
      body: JSON.stringify({
        model: "mock",
        max_tokens: 5,
        messages: [{ role: "user", content: "one two three" }],
      }),
    });
    const reply = (await res.json()) as { id: string; usage: { output_tokens: number } };
    expect(res.status).toBe(200);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const db = new Database(join(data, "parley.db"), { readonly: true });
    try {
      const rows = db.prepare("select model, status, output_tokens from usage").all();
      expect(rows).toEqual([{ model: "mock", status: 200, output_tokens: reply.usage.output_tokens }]);
    } finally {
      db.close();
    }
  });
});
