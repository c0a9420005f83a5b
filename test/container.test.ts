/**
 * The container files, kept honest without a Docker engine: the files the Dockerfile copies
 * (package.json, the lockfile, src/, minus .dockerignore) go to a temp dir, `npm ci --omit=dev`
 * installs them there, and the Dockerfile's CMD starts with compose.yaml's environment for
 * parley-1 (PostgreSQL and Redis pointed at the test services in a fresh schema/prefix when set,
 * else SQLite and in-memory limits). Then /health, /ready, one /v1/messages on the mock, and the
 * HEALTHCHECK command itself.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, matchesGlob, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PG_URL, postgresDatabase, REDIS_URL, redisPrefix, type TestDatabase } from "./helpers/databases.ts";
import { freePort } from "./helpers/free-port.ts";

const ROOT = join(import.meta.dirname, "..");
const INSTALL_TIMEOUT_MS = 240_000;

interface Compose {
  services: Record<string, { environment?: Record<string, string>; ports?: string[] }>;
}

describe("container files (Dockerfile, compose.yaml) without Docker", () => {
  let dir: string;
  let dockerfile: string;
  let env: Record<string, string>;
  let server: ChildProcess | undefined;
  let url: string;
  let port: number;
  let pg: TestDatabase | undefined;
  const output: string[] = [];

  beforeAll(async () => {
    dockerfile = await readFile(join(ROOT, "Dockerfile"), "utf8");
    dir = await mkdtemp(join(tmpdir(), "parley-container-"));
    await copyLikeDocker(dir);
    const install = await run("npm", ["ci", "--omit=dev", "--prefer-offline", "--no-audit", "--no-fund"], {
      cwd: dir,
      timeoutMs: INSTALL_TIMEOUT_MS,
    });
    if (install.code !== 0) throw new Error(`npm ci --omit=dev failed (${install.code}):\n${install.output}`);

    const compose = parse(await readFile(join(ROOT, "compose.yaml"), "utf8"), { merge: true }) as Compose;
    const composeEnv = interpolate(compose.services["parley-1"]?.environment ?? {});
    expect(Object.keys(composeEnv)).toEqual(
      expect.arrayContaining(["PARLEY_CONFIG", "PARLEY_API_KEY", "PARLEY_STORAGE"]),
    );
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    if (PG_URL) pg = await postgresDatabase(PG_URL);
    env = {
      ...composeEnv,
      // The mounts: the example config and a data volume.
      PARLEY_CONFIG: join(ROOT, "deploy/parley.yaml"),
      PARLEY_DATA_DIR: join(dir, "data"),
      PARLEY_PORT: String(port),
      // The compose services by their test stand-ins (or skipped when there are none).
      PARLEY_STORAGE: pg?.url ?? `sqlite:${join(dir, "data", "parley.db")}`,
      PARLEY_LIMITS: REDIS_URL ? `${REDIS_URL}?prefix=${redisPrefix()}` : "memory",
      PARLEY_VLLM_URL: "http://127.0.0.1:9/v1",
    };
    // The Dockerfile's CMD, bound to loopback here (the image binds 0.0.0.0).
    const cmd = jsonInstruction(dockerfile, "CMD");
    expect(cmd.slice(0, 4)).toEqual(["node", "src/cli/main.ts", "serve", "--host"]);
    server = spawn(process.execPath, [...cmd.slice(1, -1), "127.0.0.1"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", HOME: dir, NODE_ENV: "production", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    server.stdout?.on("data", (c: Buffer) => output.push(c.toString()));
    server.stderr?.on("data", (c: Buffer) => output.push(c.toString()));
    await waitFor(
      `${url}/health`,
      30_000,
      () => output.join(""),
      () => server?.exitCode !== null,
    );
  }, INSTALL_TIMEOUT_MS + 60_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      server.kill("SIGTERM");
      await new Promise((r) => server?.once("exit", r));
    }
    await pg?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("installed without dev dependencies, and src/ imports none of them", async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    // The toolchain and the test clients are not there (some small dev packages may also be
    // transitive production dependencies, so only these are checked by name).
    for (const dev of ["vitest", "@biomejs/biome", "@anthropic-ai/sdk", "ai", "fast-check"]) {
      expect(dev in pkg.devDependencies).toBe(true);
      expect(existsSync(join(dir, "node_modules", dev)), `${dev} installed`).toBe(false);
    }
    expect(existsSync(join(dir, "node_modules", "fastify"))).toBe(true);
    const bad: string[] = [];
    for (const file of await listFiles(join(ROOT, "src"))) {
      const text = await readFile(file, "utf8");
      for (const m of text.matchAll(/^import (?!type )[^;]*?from "([^"]+)"|import\("([^"]+)"\)/gm)) {
        const spec = (m[1] ?? m[2]) as string;
        if (spec.startsWith(".") || spec.startsWith("node:")) continue;
        const name = spec.startsWith("@")
          ? spec.split("/").slice(0, 2).join("/")
          : (spec.split("/")[0] as string);
        if (!(name in pkg.dependencies)) bad.push(`${relative(ROOT, file)}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("answers /health and /ready with compose's environment", async () => {
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${url}/ready`);
    const body = (await ready.json()) as { checks: { redis?: unknown } };
    expect(ready.status).toBe(200);
    expect(body).toMatchObject({
      status: "ready",
      checks: { store: { ok: true }, models: { mock: { ok: true }, qwen: { ok: true } } },
    });
    if (REDIS_URL) expect(body.checks.redis).toEqual({ ok: true });
  });

  it("serves the built console, which the image copies", async () => {
    const res = await fetch(`${url}/console`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/<div id="app"|<script type="module"/);
  });

  it("serves /v1/messages on the mock with the key from the compose environment", async () => {
    const res = await fetch(`${url}/v1/messages`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-key": env.PARLEY_API_KEY as string,
        "anthropic-version": "2023-06-01",
      },
      body: JSON.stringify({ model: "mock", max_tokens: 32, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ type: "message", role: "assistant", model: "mock" });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^parley_requests_total\{model="mock",status="200",error_type="none"\} 1$/m);
  });

  it("the HEALTHCHECK command succeeds against it (and fails once it is gone)", async () => {
    const check = jsonInstruction(dockerfile, "HEALTHCHECK");
    expect(check[0]).toBe("node");
    const ok = await run(process.execPath, check.slice(1), {
      env: { PARLEY_PORT: String(port) },
      timeoutMs: 10_000,
    });
    expect(ok.code).toBe(0);
    const gone = await run(process.execPath, check.slice(1), {
      env: { PARLEY_PORT: String(await freePort()) },
      timeoutMs: 10_000,
    });
    expect(gone.code).toBe(1);
  });
});

/** Copies what the Dockerfile's COPY lines name, leaving out what .dockerignore excludes. */
async function copyLikeDocker(to: string): Promise<void> {
  const ignore = (await readFile(join(ROOT, ".dockerignore"), "utf8"))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const ignored = (rel: string) =>
    ignore.some((p) => matchesGlob(rel, p) || rel.split("/").some((part) => matchesGlob(part, p)));
  for (const name of ["package.json", "package-lock.json"]) await cp(join(ROOT, name), join(to, name));
  const files = [
    ...(await listFiles(join(ROOT, "src"))),
    ...(await listFiles(join(ROOT, "console", "dist"))),
  ];
  for (const file of files) {
    const rel = relative(ROOT, file);
    if (ignored(rel)) continue;
    await mkdir(dirname(join(to, rel)), { recursive: true });
    await cp(file, join(to, rel));
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** The JSON-array form of a Dockerfile instruction (`CMD [...]`, `HEALTHCHECK ... CMD [...]`). */
function jsonInstruction(dockerfile: string, name: "CMD" | "HEALTHCHECK"): string[] {
  const joined = dockerfile.replace(/\\\n\s*/g, " ");
  const line = joined.split("\n").find((l) => l.startsWith(`${name} `));
  const array = line && /CMD (\[.*\])\s*$/.exec(line)?.[1];
  if (!array) throw new Error(`no ${name} [..] in the Dockerfile`);
  return JSON.parse(array) as string[];
}

/** Compose's `${NAME:-default}` interpolation, from this process's environment. */
function interpolate(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [
      k,
      String(v).replace(
        /\$\{(\w+)(?::-([^}]*))?\}/g,
        (_, name: string, def = "") => process.env[name] ?? def,
      ),
    ]),
  );
}

function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs: number },
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

async function waitFor(target: string, timeoutMs: number, log: () => string, exited: () => boolean) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && !exited()) {
    try {
      if ((await fetch(target)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${target} did not answer (within ${timeoutMs} ms or before exiting):\n${log()}`);
}
