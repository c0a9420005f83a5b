/**
 * A Claude Code session through `parley claude`, against a llama model at a 32k window:
 * Claude Code's first request and the turns after it (`--continue`), with the prompt tokens,
 * the share of them read from the slot's KV cache, and the time each turn took.
 *
 *   npm run bench:claude-session [-- --turns 5 --window 32768 --model FILE.gguf]
 *
 * Needs `claude` (PARLEY_CLAUDE_BIN, PATH, or the test cache ~/.cache/parley-test) and the
 * llama-2-tiny-random fixture from PARLEY_MODELS_DIR by default: random weights, so the replies
 * are gibberish, but its tokenizer is Llama-2's and prompt processing is real work.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";

const { values: args } = parseArgs({
  options: {
    turns: { type: "string", default: "5" },
    window: { type: "string", default: "32768" },
    output: { type: "string", default: "256" },
    model: { type: "string" },
  },
});
const MAIN = resolve(import.meta.dirname, "../src/cli/main.ts");
const modelFile =
  args.model ??
  join(
    process.env.PARLEY_MODELS_DIR ?? resolve(import.meta.dirname, "../../shared/models"),
    "llama-2-tiny-random.gguf",
  );
const claudeBin =
  process.env.PARLEY_CLAUDE_BIN ??
  [join(homedir(), ".cache", "parley-test", "claude-code-2.1.332", "node_modules", ".bin", "claude")].find(
    existsSync,
  );
if (!existsSync(modelFile))
  throw new Error(`model file ${modelFile} not found (set PARLEY_MODELS_DIR or --model)`);

const PROMPTS = [
  "List the files in this folder and tell me what the project is.",
  "Now read package.json and summarise the scripts.",
  "Which of those scripts runs the tests?",
  "Suggest one more script that would help.",
  "Thanks, that is all for now.",
];

const dir = await mkdtemp(join(tmpdir(), "parley-cc-bench-"));
const work = join(dir, "work");
const home = join(dir, "home");
const port = 20_000 + Math.floor(Math.random() * 20_000);
const configFile = join(dir, "parley.json");
await writeFile(
  configFile,
  JSON.stringify({
    listen: { host: "127.0.0.1", port },
    data_dir: join(dir, "data"),
    log_level: "info",
    claude_code_model: "local-32k",
    models: [
      {
        id: "local-32k",
        provider: "llama",
        path: modelFile,
        context_window: Number(args.window),
        max_output_tokens: Number(args.output),
        parallel: 1,
      },
    ],
  }),
);
await run("mkdir", ["-p", work, home]);
await writeFile(join(home, ".claude.json"), JSON.stringify({ hasCompletedOnboarding: true }));
await writeFile(
  join(work, "package.json"),
  JSON.stringify({ name: "demo", scripts: { test: "vitest run" } }),
);

// One Parley for the whole session, as a user would keep running: its slot keeps the KV cache.
const server = spawn(process.execPath, [MAIN, "serve", "--config", configFile], {
  stdio: ["ignore", "pipe", "inherit"],
});
await listening(server);
const env = {
  ...process.env,
  HOME: home,
  IS_SANDBOX: "1",
  ...(claudeBin ? { PARLEY_CLAUDE_BIN: claudeBin } : {}),
};
const turns = Number(args.turns);
const wall: { from: number; to: number }[] = [];
try {
  for (let i = 0; i < turns; i++) {
    const from = Date.now();
    const extra = i === 0 ? [] : ["--continue"];
    const code = await run(
      process.execPath,
      [MAIN, "claude", "--parley-config", configFile, ...extra, "-p", PROMPTS[i % PROMPTS.length]],
      {
        cwd: work,
        env,
      },
    );
    wall.push({ from, to: Date.now() });
    if (code !== 0) console.warn(`turn ${i + 1}: parley claude exited ${code}`);
  }
} finally {
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
}

const db = new Database(join(dir, "data", "parley.db"), { readonly: true });
const rows = db
  .prepare(
    "SELECT input_tokens, cache_read_input_tokens, cache_creation_input_tokens, output_tokens, latency_ms, ttft_ms, status, started_at FROM usage ORDER BY started_at",
  )
  .all() as Record<string, number>[];
db.close();
console.log(`model ${modelFile} at a ${args.window}-token window, 1 slot, max_output_tokens ${args.output}`);
console.log(`machine: ${loadavg()[0].toFixed(1)} load (1 min) at the end\n`);
// Claude Code resumes a reply cut at max_tokens (its output-limit recovery), so a turn can take
// several requests: random weights never stop on their own.
console.log(
  "| turn | request | status | prompt tokens | cache read | share | output | first token | request | turn (wall) |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|");
wall.forEach(({ from, to }, t) => {
  const mine = rows.filter((r) => r.started_at >= from && r.started_at <= to);
  mine.forEach((r, i) => {
    const prompt = r.input_tokens + r.cache_read_input_tokens + r.cache_creation_input_tokens;
    const share = prompt ? Math.round((100 * r.cache_read_input_tokens) / prompt) : 0;
    const turnWall = i === 0 ? `${((to - from) / 1000).toFixed(1)} s` : "";
    console.log(
      `| ${i === 0 ? t + 1 : ""} | ${i + 1} | ${r.status} | ${prompt} | ${r.cache_read_input_tokens} | ${share}% | ${r.output_tokens} | ${r.ttft_ms ?? "-"} ms | ${r.latency_ms} ms | ${turnWall} |`,
    );
  });
});
await rm(dir, { recursive: true, force: true });

function run(
  file: string,
  argv: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<number | null> {
  return new Promise((done, fail) => {
    const child = spawn(file, argv, { stdio: ["ignore", "ignore", "inherit"], ...opts });
    child.once("error", fail);
    child.once("exit", (code) => done(code));
  });
}

function listening(child: ChildProcess): Promise<void> {
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error("parley serve did not start in 60 s")), 60_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString("utf8").includes('"msg":"parley listening"')) {
        clearTimeout(timer);
        done();
      }
    });
  });
}
