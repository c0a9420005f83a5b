/**
 * The real Claude Code CLI against Parley on loopback: `claude -p` text, a Bash tool loop whose
 * command really runs, stream-json with no 4xx on the wire, an unavailable model's message
 * reaching the user at once, and `parley claude` end to end (Claude Code started by the launcher,
 * its exit code passed through). Claude Code is installed once into a cache folder (it is a
 * 400 MB native binary, too big for a dev dependency every `npm ci` would fetch); when that is
 * impossible the tests skip and say why. Every run gets a fresh HOME.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

const VERSION = process.env.PARLEY_TEST_CLAUDE_CODE_VERSION ?? "2.1.332";
const CACHE = join(
  process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"),
  "parley-test",
  `claude-code-${VERSION}`,
);
const MAIN = resolve(import.meta.dirname, "../src/cli/main.ts");
const RUN_TIMEOUT_MS = 60_000;

/** The claude binary: PARLEY_TEST_CLAUDE_BIN, the cache, or a fresh install into the cache. */
async function installClaude(): Promise<{ bin?: string; why?: string }> {
  if (process.env.PARLEY_TEST_CLAUDE_BIN) return { bin: process.env.PARLEY_TEST_CLAUDE_BIN };
  const bin = join(CACHE, "node_modules", ".bin", "claude");
  if (existsSync(bin)) return { bin };
  await mkdir(CACHE, { recursive: true });
  const args = [
    "install",
    "--prefix",
    CACHE,
    "--no-audit",
    "--no-fund",
    "--no-save",
    `@anthropic-ai/claude-code@${VERSION}`,
  ];
  const failed = await new Promise<string | undefined>((done) =>
    execFile("npm", args, { timeout: 240_000 }, (err, _out, stderr) =>
      done(err ? `${err.message} ${stderr}`.slice(0, 500) : undefined),
    ),
  );
  if (failed || !existsSync(bin))
    return { why: `npm install @anthropic-ai/claude-code@${VERSION} failed: ${failed}` };
  return { bin };
}

const claude = await installClaude();
if (!claude.bin) console.warn(`claude-code.test.ts skipped: ${claude.why}`);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command with a fresh HOME (onboarding done, as a user who set it up) and no Anthropic variables. */
async function run(
  file: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  { onboarded = true } = {},
): Promise<Run> {
  const home = await mkdtemp(join(tmpdir(), "parley-cc-home-"));
  if (onboarded)
    await writeFile(join(home, ".claude.json"), JSON.stringify({ hasCompletedOnboarding: true }));
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("ANTHROPIC_") && !k.startsWith("CLAUDE_")),
  ) as Record<string, string>;
  const started = performance.now();
  try {
    return await new Promise<Run>((done, fail) => {
      const child: ChildProcess = spawn(file, args, {
        cwd,
        env: { ...base, HOME: home, IS_SANDBOX: "1", DISABLE_TELEMETRY: "1", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout?.on("data", (c: Buffer) => {
        stdout += c.toString("utf8");
      });
      child.stderr?.on("data", (c: Buffer) => {
        stderr += c.toString("utf8");
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
      child.once("error", fail);
      child.once("close", (code) => {
        clearTimeout(timer);
        done({ code, stdout, stderr, ms: performance.now() - started });
      });
    });
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

type Line = Record<string, unknown> & { msg: string };

describe.skipIf(!claude.bin)(`Claude Code ${VERSION} against Parley`, () => {
  let server: TestServer;
  let work: string;
  const lines: Line[] = [];
  const logger = pino(
    { level: "info" },
    new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split("\n")) if (l.trim()) lines.push(JSON.parse(l) as Line);
        done();
      },
    }),
  );
  const models = [
    { id: "local-model", provider: "mock" as const, context_window: 32768, max_output_tokens: 8192 },
    {
      id: "broken",
      provider: "llama" as const,
      path: "/nonexistent/parley-test/broken.gguf",
      load: "lazy" as const,
    },
  ];

  const direct = (args: string[]) =>
    run(claude.bin as string, args, work, {
      ANTHROPIC_BASE_URL: server.url,
      ANTHROPIC_AUTH_TOKEN: TEST_KEY,
      ANTHROPIC_MODEL: "local-model",
      CLAUDE_CODE_MAX_CONTEXT_TOKENS: "32768",
      CLAUDE_CODE_MAX_OUTPUT_TOKENS: "8192",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    });

  /** Requests this server answered since `from`: one log line each (see request-log.ts). */
  const answered = (from: number) =>
    lines
      .slice(from)
      .filter((l) => l.msg === "message" || l.msg === "request refused" || l.msg === "request failed");

  beforeAll(async () => {
    server = await startTestServer({ models }, { logger });
    work = await mkdtemp(join(tmpdir(), "parley-cc-work-"));
  });
  afterAll(async () => {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("claude -p prints the mock's echo of the prompt alone (Claude Code's <system-reminder> left out)", async () => {
    const from = lines.length;
    const r = await direct(["-p", "hello parley"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("hello parley\n");
    expect(r.stderr).not.toMatch(/doesn't recognize the model/);
    const seen = answered(from);
    expect(seen).toEqual([expect.objectContaining({ msg: "message", status: 200, model: "local-model" })]);
  });

  it("runs a Bash tool loop: the command really runs and its output comes back", async () => {
    const command = "echo hello-from-tool | tee proof.txt";
    const prompt = `run it [[tool:Bash ${JSON.stringify({ command, description: "Write the proof file" })}]]`;
    const from = lines.length;
    const r = await direct(["-p", prompt, "--allowedTools", "Bash"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(work, "proof.txt"), "utf8")).toBe("hello-from-tool\n");
    expect(r.stdout).toContain("hello-from-tool");
    expect(answered(from).map((l) => l.status)).toEqual([200, 200]);
  });

  it("--output-format stream-json: thinking.display 'updates' is accepted, so no 4xx on the wire", async () => {
    const prompt = `again [[tool:Bash ${JSON.stringify({ command: "echo streamed", description: "Echo" })}]]`;
    const from = lines.length;
    const r = await direct([
      "-p",
      prompt,
      "--allowedTools",
      "Bash",
      "--output-format",
      "stream-json",
      "--verbose",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as { type: string; subtype?: string; num_turns?: number });
    expect(events.at(-1)).toMatchObject({ type: "result", subtype: "success", num_turns: 2 });
    const seen = answered(from);
    expect(seen.map((l) => l.status)).toEqual([200, 200]);
    expect(lines.slice(from).filter((l) => l.msg === "request refused")).toEqual([]);
  });

  it("an unavailable model's reason reaches the user at once: one attempt, not minutes of retries", async () => {
    const from = lines.length;
    const r = await run(claude.bin as string, ["-p", "hi"], work, {
      ANTHROPIC_BASE_URL: server.url,
      ANTHROPIC_AUTH_TOKEN: TEST_KEY,
      ANTHROPIC_MODEL: "broken",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/model broken is unavailable: Model file not found/);
    expect(answered(from)).toEqual([expect.objectContaining({ msg: "request failed", status: 500 })]);
    expect(r.ms).toBeLessThan(30_000);
  });

  describe("parley claude", () => {
    let dataDir: string;
    let configFile: string;
    const launch = (args: string[], extra: Record<string, string> = {}) =>
      run(process.execPath, [MAIN, "claude", "--parley-config", configFile, ...args], work, {
        PARLEY_CLAUDE_BIN: claude.bin as string,
        ...extra,
      });

    beforeAll(async () => {
      // The launcher's config names the test server's address and store, as a user's would.
      const config = server.deps.config;
      dataDir = config.data_dir;
      configFile = join(work, "..", `parley-cc-${Date.now()}.json`);
      await writeFile(
        configFile,
        JSON.stringify({
          listen: { host: "127.0.0.1", port: Number(new URL(server.url).port) },
          data_dir: dataDir,
          storage: config.storage,
          claude_code_model: "local-model",
          models,
        }),
      );
    });
    afterAll(async () => {
      await rm(configFile, { force: true });
    });

    it("runs Claude Code on the running Parley with a key it created, the model's window, and its exit code", async () => {
      const from = lines.length;
      const r = await launch(["-p", "hello parley"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe("hello parley\n");
      expect(r.stderr).toContain("created an API key for local-model");
      expect(r.stderr).not.toContain("started Parley");
      expect(r.stderr).not.toMatch(/doesn't recognize the model/);
      const seen = answered(from);
      expect(seen).toEqual([expect.objectContaining({ status: 200, key: "parley claude (local-model)" })]);
      // The key is in the store as a hash and in a 0600 file; never on a command line.
      const saved = (await readFile(join(dataDir, "claude", "local-model.key"), "utf8")).trim();
      expect(saved).toMatch(/^sk-parley-/);
      expect(r.stderr + r.stdout).not.toContain(saved);

      const again = await launch(["-p", "hello again"]);
      expect(again.code).toBe(0);
      expect(again.stderr).not.toContain("created an API key");

      const failing = await launch(["--model", "broken", "-p", "hi"]);
      expect(failing.code).toBe(1);
      expect(failing.stdout + failing.stderr).toMatch(/model broken is unavailable/);
    }, 120_000);

    it("starts a Parley for the session when none runs and stops it afterwards; a first start needs no onboarding", async () => {
      const own = join(work, "..", `parley-cc-own-${Date.now()}`);
      const file = `${own}.json`;
      await writeFile(
        file,
        JSON.stringify({ listen: { host: "127.0.0.1", port: 9 }, data_dir: own, models: [models[0]] }),
      );
      try {
        const r = await run(
          process.execPath,
          [MAIN, "claude", "--parley-config", file, "-p", "hello parley"],
          work,
          { PARLEY_CLAUDE_BIN: claude.bin as string },
          { onboarded: false }, // a HOME where Claude Code never ran: its onboarding needs the hosted API
        );
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe("hello parley\n");
        const configDir = join(own, "claude", "config");
        expect(r.stderr).toContain(`runs with CLAUDE_CONFIG_DIR=${configDir}`);
        const claudeJson = JSON.parse(await readFile(join(configDir, ".claude.json"), "utf8")) as object;
        expect(claudeJson).toMatchObject({ hasCompletedOnboarding: true });
        const url = /started Parley at (http:\/\/127\.0\.0\.1:\d+)/.exec(r.stderr)?.[1];
        expect(url, r.stderr).toBeDefined();
        await expect(fetch(url as string)).rejects.toThrow();
        const log = await readFile(join(own, "claude", "server.log"), "utf8");
        expect(log).toContain('"msg":"parley listening"');
        expect(log).toContain('"signal":"SIGTERM"');
      } finally {
        await rm(own, { recursive: true, force: true });
        await rm(file, { force: true });
      }
    }, 120_000);
  });
});
