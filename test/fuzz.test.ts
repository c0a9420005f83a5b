/**
 * Property-based robustness test: thousands of malformed (and, as a control, valid) bodies at
 * POST /v1/messages and /v1/messages/count_tokens. Never a 5xx, a hang or a crash; every 4xx is
 * the Anthropic envelope with a request-id; 200 only for valid bodies.
 *
 * The server runs as a child `parley serve` with a small heap, so a crash or runaway memory shows
 * up as a failed request naming the exit status instead of taking the test runner down.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Body,
  brokenJson,
  countMutation,
  createMutation,
  demandingSchema,
  hugeString,
  NESTING_PLACES,
  nestedJson,
  validCount,
  validCreate,
} from "./helpers/fuzz-requests.ts";
import { parseSse } from "./helpers/server.ts";

const MAIN = join(import.meta.dirname, "../src/cli/main.ts");
const KEY = "sk-fuzz-test-0001";
/** No reply within this long counts as a hang. */
const REPLY_TIMEOUT_MS = 5_000;
const MESSAGES = "/v1/messages";
const COUNT = "/v1/messages/count_tokens";

const ERROR_TYPE: Record<number, string> = {
  400: "invalid_request_error",
  404: "not_found_error",
  413: "request_too_large",
};

interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** The server's last error-level log lines, for failure messages. */
  errors: string[];
}

let server: ServerProcess;
let dir: string;
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

async function startServerProcess(): Promise<ServerProcess> {
  const config = join(dir, "parley.json");
  await writeFile(
    config,
    JSON.stringify({
      log_level: "info",
      keys: [{ key: KEY, name: "fuzz" }],
      models: [{ id: "mock", provider: "mock" }],
    }),
  );
  const args = ["--max-old-space-size=384", MAIN, "serve", "--config", config, "--port", "0"];
  const child = spawn(process.execPath, [...args, "--host", "127.0.0.1", "--data-dir", join(dir, "data")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  spawned.add(child);
  const errors: string[] = [];
  const keep = (line: string) => {
    if (/"level":(50|60)/.test(line) || !line.startsWith("{")) errors.push(line.slice(0, 2000));
    if (errors.length > 5) errors.shift();
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left running when start times out: killed by its PID here (afterAll checks again).
      if (child.pid) killPid(child.pid);
      reject(new Error(`parley serve did not start: ${errors.join("\n")}`));
    }, 15_000);
    let pending = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      const lines = (pending + chunk.toString("utf8")).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        keep(line);
        const url = /"url":"(http:[^"]+)"/.exec(line)?.[1];
        if (url) {
          clearTimeout(timer);
          resolve({ child, url, errors });
        }
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => keep(chunk.toString("utf8")));
  });
}

/** Every `parley serve` this file started, so none outlives it whatever failed. */
const spawned = new Set<ChildProcess>();

function killPid(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
}

async function stopServerProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  // A server stuck in a busy loop cannot run its SIGTERM handler.
  const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
  await exited;
  clearTimeout(timer);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-fuzz-"));
  server = await startServerProcess();
});

afterAll(async () => {
  agent.destroy();
  if (server) await stopServerProcess(server.child);
  for (const child of spawned)
    if (child.pid && child.exitCode === null && child.signalCode === null) killPid(child.pid);
  await rm(dir, { recursive: true, force: true });
});

interface Attempt {
  /** What was sent, for failure messages. */
  label: string;
  path: typeof MESSAGES | typeof COUNT;
  body: string | Uint8Array;
  /** Extra request headers; a null value leaves the header out. */
  headers?: Record<string, string | null>;
  /** The statuses this body may get. */
  allowed: readonly number[];
  stream?: boolean;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

function serverState(): string {
  const { child, errors } = server;
  const state =
    child.exitCode !== null || child.signalCode !== null
      ? `the server exited (code ${child.exitCode}, signal ${child.signalCode})`
      : "the server is still running";
  return `${state}; its errors while answering:\n${errors.join("\n") || "(none)"}`;
}

function send(a: Attempt): Promise<Reply> {
  const headers: Record<string, string> = {
    "x-api-key": KEY,
    "anthropic-version": "2023-06-01",
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(a.body)),
  };
  for (const [name, value] of Object.entries(a.headers ?? {})) {
    if (value === null) delete headers[name];
    else headers[name] = value;
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${server.url}${a.path}`,
      { method: "POST", agent, headers, signal: AbortSignal.timeout(REPLY_TIMEOUT_MS) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on("error", (err) => {
      // Give a crashing server a moment to report its exit and last words.
      const why = err.name === "AbortError" ? `nothing within ${REPLY_TIMEOUT_MS} ms` : err.message;
      setTimeout(() => reject(new Error(`no reply to ${a.label}: ${why}; ${serverState()}`)), 300);
    });
    req.end(a.body);
  });
}

function checkEnvelope(r: Reply, where: string): void {
  expect(r.headers["content-type"], where).toMatch(/^application\/json/);
  const body = JSON.parse(r.text) as { error: { message: string } };
  expect(body, where).toEqual({
    type: "error",
    error: { type: ERROR_TYPE[r.status], message: expect.any(String) },
    request_id: r.headers["request-id"],
  });
  expect(body.error.message, where).not.toBe("");
}

function checkSuccess(a: Attempt, r: Reply, where: string): void {
  if (a.path === COUNT) {
    const body = JSON.parse(r.text) as { input_tokens: number };
    // A body asking for context edits also gets the count before them (original_input_tokens).
    const sent = typeof a.body === "string" ? (JSON.parse(a.body) as { context_management?: unknown }) : {};
    const edits = sent.context_management != null;
    expect(body, where).toEqual(
      edits
        ? {
            input_tokens: expect.any(Number),
            context_management: { original_input_tokens: expect.any(Number) },
          }
        : { input_tokens: expect.any(Number) },
    );
    expect(Number.isInteger(body.input_tokens) && body.input_tokens >= 0, where).toBe(true);
  } else if (a.stream) {
    expect(r.headers["content-type"], where).toMatch(/^text\/event-stream/);
    const names = parseSse(r.text)
      .map((e) => e.event)
      .filter((n) => n !== "ping");
    expect(names[0], where).toBe("message_start");
    expect(names.slice(-2), where).toEqual(["message_delta", "message_stop"]);
  } else {
    const message = JSON.parse(r.text) as Body;
    expect(message.id, where).toMatch(/^msg_01/);
    expect(message, where).toMatchObject({ type: "message", role: "assistant", model: "mock" });
    expect(Array.isArray(message.content), where).toBe(true);
  }
}

/** Sends one attempt and checks the reply against every rule of this file. */
async function expectReply(a: Attempt): Promise<void> {
  server.errors.length = 0;
  const r = await send(a);
  let where = `${a.label}\n→ ${r.status} ${r.text.slice(0, 400)}`;
  if (r.status >= 500) {
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the server's log line arrive
    where += `\n${serverState()}`;
  }
  expect(r.status, where).toBeLessThan(500);
  expect(r.headers["request-id"], where).toMatch(/^req_01[0-9A-Za-z]{22}$/);
  expect(a.allowed, where).toContain(r.status);
  if (r.status >= 400) checkEnvelope(r, where);
  else checkSuccess(a, r, where);
}

const short = (s: string | Uint8Array) => {
  const text = typeof s === "string" ? s : `bytes ${Buffer.from(s).toString("hex")}`;
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text;
};

/** Header variations real clients produce; none of them makes a valid body invalid. */
const clientHeaders = fc
  .record({
    bearer: fc.boolean(),
    version: fc.constantFrom("2023-06-01", "2026-10-21"),
    betas: fc.array(fc.stringMatching(/^[a-z0-9-]{1,30}$/), { maxLength: 3 }),
    // Bodies are read as JSON whatever the content-type says (curl -d sends form encoding).
    contentType: fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "text/plain",
      "application/x-www-form-urlencoded",
      "application/octet-stream",
      null,
    ),
  })
  .map(({ bearer, version, betas, contentType }) => ({
    "x-api-key": bearer ? null : KEY,
    authorization: bearer ? `Bearer ${KEY}` : null,
    "anthropic-version": version,
    "anthropic-beta": betas.length ? betas.join(",") : null,
    "content-type": contentType,
  }));

const anyContentType = fc.constantFrom(
  "application/json",
  "text/plain",
  "application/x-www-form-urlencoded",
  null,
);

const withMutation = (body: Body, mutate: (b: Body) => void) => {
  const copy = structuredClone(body);
  mutate(copy);
  return copy;
};

describe("POST /v1/messages with malformed bodies", () => {
  it("accepts valid bodies from any client: either key header and API version, unknown betas and fields", async () => {
    await fc.assert(
      fc.asyncProperty(validCreate, clientHeaders, async (body, headers) => {
        const json = JSON.stringify(body);
        await expectReply({
          label: `valid ${short(json)} with ${JSON.stringify(headers)}`,
          path: MESSAGES,
          body: json,
          headers,
          allowed: [200],
          stream: body.stream === true,
        });
      }),
      { numRuns: 300 },
    );
  });

  it("gives the exact 4xx envelope for a body with one known-invalid change", async () => {
    await fc.assert(
      fc.asyncProperty(validCreate, createMutation, fc.boolean(), async (valid, m, stream) => {
        const body = withMutation({ ...valid, stream }, m.mutate);
        await expectReply({
          label: `${m.label}: ${short(JSON.stringify(body))}`,
          path: MESSAGES,
          body: JSON.stringify(body),
          allowed: [m.status],
        });
      }),
      { numRuns: 1200 },
    );
  });

  it("gives a 400 envelope for arbitrary JSON values", async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), anyContentType, async (value, contentType) => {
        const json = JSON.stringify(value);
        await expectReply({
          label: `JSON ${short(json)} as ${contentType}`,
          path: MESSAGES,
          body: json,
          headers: { "content-type": contentType },
          allowed: [400],
        });
      }),
      { numRuns: 400 },
    );
  });

  it("gives a 400 envelope for text that is not JSON, whatever the content-type", async () => {
    const notJson = fc.oneof(brokenJson, fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }));
    await fc.assert(
      fc.asyncProperty(notJson, anyContentType, async (body, contentType) => {
        await expectReply({
          label: `not JSON ${short(body)} as ${contentType}`,
          path: MESSAGES,
          body,
          headers: { "content-type": contentType },
          allowed: [400],
        });
      }),
      { numRuns: 400 },
    );
  });

  it("gives a 400 envelope for an anthropic-version header that is not a date", async () => {
    const version = fc
      .stringMatching(/^[!-~][ -~]{0,20}$/)
      .filter((v) => !/^\d{4}-\d{2}-\d{2}$/.test(v.trim()));
    await fc.assert(
      fc.asyncProperty(validCreate, version, async (body, v) => {
        await expectReply({
          label: `anthropic-version ${JSON.stringify(v)}`,
          path: MESSAGES,
          body: JSON.stringify(body),
          headers: { "anthropic-version": v },
          allowed: [400],
        });
      }),
      { numRuns: 100 },
    );
  });

  it("takes deep nesting where any JSON may go and refuses it elsewhere, never with a 5xx", async () => {
    const place = fc.constantFrom(...NESTING_PLACES.map((p) => p.place));
    await fc.assert(
      fc.asyncProperty(place, fc.integer({ min: 1, max: 5_000 }), async (name, depth) => {
        const p = NESTING_PLACES.find((x) => x.place === name) as (typeof NESTING_PLACES)[number];
        // Modest depth must work; for extreme depth a 400 is an acceptable refusal.
        const allowed = p.valid ? (depth <= 100 ? [200] : [200, 400]) : [400];
        const body = p.body(nestedJson(depth));
        for (const path of [MESSAGES, COUNT] as const) {
          await expectReply({ label: `${depth} levels in ${p.place} (${path})`, path, body, allowed });
        }
      }),
      { numRuns: 150 },
    );
  });

  it("takes huge strings within the body limit", async () => {
    const places = fc.constantFrom<[string, (s: string) => Body]>(
      ["user text", (s) => ({ messages: [{ role: "user", content: s }] })],
      ["system", (s) => ({ system: s })],
      ["an unknown field", (s) => ({ x_blob: s })],
      ["a stop sequence", (s) => ({ stop_sequences: [s] })],
      [
        "a tool description",
        (s) => ({ tools: [{ name: "t", description: s, input_schema: { type: "object" } }] }),
      ],
    );
    await fc.assert(
      fc.asyncProperty(validCreate, places, hugeString, async (valid, [place, put], s) => {
        const body = { ...valid, ...put(s) };
        delete body.tool_choice;
        await expectReply({
          label: `${s.length} chars in ${place}`,
          path: MESSAGES,
          body: JSON.stringify(body),
          allowed: [200],
          stream: body.stream === true,
        });
      }),
      { numRuns: 12 },
    );
  });
});

describe("POST /v1/messages/count_tokens with malformed bodies", () => {
  it("counts valid bodies", async () => {
    await fc.assert(
      fc.asyncProperty(validCount, clientHeaders, async (body, headers) => {
        const json = JSON.stringify(body);
        await expectReply({
          label: `valid ${short(json)}`,
          path: COUNT,
          body: json,
          headers,
          allowed: [200],
        });
      }),
      { numRuns: 150 },
    );
  });

  it("gives the exact 4xx envelope for a body with one known-invalid change", async () => {
    await fc.assert(
      fc.asyncProperty(validCount, countMutation, async (valid, m) => {
        const body = JSON.stringify(withMutation(valid, m.mutate));
        await expectReply({ label: `${m.label}: ${short(body)}`, path: COUNT, body, allowed: [m.status] });
      }),
      { numRuns: 300 },
    );
  });

  it("gives a 400 envelope for arbitrary JSON values and non-JSON text", async () => {
    const junk = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      brokenJson,
    );
    await fc.assert(
      fc.asyncProperty(junk, async (body) => {
        await expectReply({ label: `junk ${short(body)}`, path: COUNT, body, allowed: [400] });
      }),
      { numRuns: 200 },
    );
  });
});

describe("after the fuzzing", () => {
  it("the same server process is still up and answering", async () => {
    expect(server.child.exitCode).toBeNull();
    await expectReply({
      label: "a plain request",
      path: MESSAGES,
      body: JSON.stringify({
        model: "mock",
        max_tokens: 8,
        messages: [{ role: "user", content: "still there?" }],
      }),
      allowed: [200],
    });
  });

  // Last, because a failure here can leave the server dead or busy.
  it("answers promptly when a schema demands absurdly large values", async () => {
    const where = fc.constantFrom("a forced tool call", "structured output");
    await fc.assert(
      fc.asyncProperty(where, demandingSchema, async (place, schema) => {
        const body: Body = {
          model: "mock",
          max_tokens: 32,
          messages: [{ role: "user", content: "fill it" }],
        };
        if (place === "structured output") body.output_config = { format: { type: "json_schema", schema } };
        else
          Object.assign(body, {
            tools: [{ name: "fill", input_schema: schema }],
            tool_choice: { type: "any" },
          });
        await expectReply({
          label: `${place} with ${JSON.stringify(schema)}`,
          path: MESSAGES,
          body: JSON.stringify(body),
          // A server may refuse a schema nothing can satisfy in reasonable size.
          allowed: [200, 400],
        });
      }),
      { numRuns: 40, endOnFailure: true },
    );
  });
});
