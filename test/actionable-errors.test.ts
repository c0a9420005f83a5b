/**
 * Errors a user (often Claude Code) can act on, and the log lines an operator sees for them:
 * permanent failures say `x-should-retry: false`, a lazy model whose file appears later starts
 * working without a restart, and every error reply writes exactly one info line without a stack.
 */

import { existsSync } from "node:fs";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FakeUpstream, json, startFakeUpstream } from "./fakes/http-upstream.ts";
import { startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

const MODELS_DIR = process.env.PARLEY_MODELS_DIR ?? join(import.meta.dirname, "../../shared/models");
const TINY = join(MODELS_DIR, "llama-2-tiny-random.gguf");
const tinyPresent = existsSync(TINY);
if (!tinyPresent)
  console.warn(`actionable-errors: llama cases skipped, ${TINY} not found (set PARLEY_MODELS_DIR)`);

type Line = Record<string, unknown> & { level: number; msg: string };

/** A pino logger whose lines the test reads back: what an operator would see at `info`. */
function capturedLogger() {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n")) if (l.trim()) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  return { logger: pino({ level: "info" }, stream), lines };
}

const hi = { max_tokens: 8, messages: [{ role: "user", content: "hi" }] };
const INFO = 30;
const WARN = 40;

describe("permanent failures and the lines they log", () => {
  let server: TestServer;
  let upstream: FakeUpstream;
  let dir: string;
  let later: string;
  const { logger, lines } = capturedLogger();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "parley-errors-"));
    later = join(dir, "appears-later.gguf");
    upstream = await startFakeUpstream((req, res) => {
      if (req.headers.authorization === "Bearer wrong") json(res, 401, { error: { message: "bad key" } });
      else json(res, 404, { error: { message: "The model `nope` does not exist" } });
    });
    server = await startTestServer(
      {
        keys: [
          { key: TEST_KEY, name: "test" },
          { key: "sk-scoped-key-0002", name: "scoped", models: ["mock"] },
          { key: "sk-limited-key-0003", name: "limited", rpm: 1 },
        ],
        models: [
          { id: "mock", provider: "mock" },
          { id: "later", provider: "llama", path: later, load: "lazy", context_window: 1024, parallel: 1 },
          { id: "creds", provider: "openai", base_url: `${upstream.origin}/v1`, api_key: "wrong" },
          { id: "misnamed", provider: "openai", base_url: `${upstream.origin}/v1`, api_key: "right" },
          ...(tinyPresent
            ? [
                {
                  id: "small",
                  provider: "llama" as const,
                  path: TINY,
                  context_window: 1024,
                  max_output_tokens: 600,
                  parallel: 1,
                },
              ]
            : []),
        ],
      },
      { logger },
    );
  });
  afterAll(async () => {
    await server?.stop();
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    lines.length = 0;
  });

  const requestLines = (id: string | null) => lines.filter((l) => l.reqId === id);

  /** The one line a failed request wrote: info level, no stack, every field an operator needs. */
  function expectOneLine(res: Response, fields: Record<string, unknown>): void {
    const mine = requestLines(res.headers.get("request-id"));
    expect(mine, JSON.stringify(lines)).toHaveLength(1);
    expect(mine[0]).toMatchObject({ level: INFO, status: res.status, ...fields });
    expect(mine[0]).not.toHaveProperty("err");
    expect(JSON.stringify(lines)).not.toContain("    at ");
  }

  it.each([
    ["creds", "rejected Parley's credentials"],
    ["misnamed", "does not know the configured model"],
  ])("an upstream that refuses %s answers 500 with x-should-retry: false", async (model, words) => {
    const res = await server.post("/v1/messages", { model, ...hi });
    expect(res.status).toBe(500);
    expect(res.headers.get("x-should-retry")).toBe("false");
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("api_error");
    expect(body.error.message).toContain(words);
    expectOneLine(res, {
      type: "api_error",
      path: "/v1/messages",
      key: "test",
      model,
      msg: "request failed",
    });
  });

  it("a transient failure keeps x-should-retry: true", async () => {
    const res = await server.post("/v1/messages", {
      model: "mock",
      ...hi,
      messages: [{ role: "user", content: "[[error:529]]" }],
    });
    expect(res.status).toBe(529);
    expect(res.headers.get("x-should-retry")).toBe("true");
    expectOneLine(res, { type: "overloaded_error", msg: "request failed" });
  });

  it("a lazy model whose file is missing says why at once, warns once, and loads once the file is there", async () => {
    const first = await server.post("/v1/messages", { model: "later", ...hi });
    expect(first.status).toBe(500);
    expect(first.headers.get("x-should-retry")).toBe("false");
    const body = (await first.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(
      /^model later is unavailable: Model file not found: .*appears-later\.gguf/,
    );
    expectOneLine(first, { type: "api_error", error: body.error.message, model: "later" });
    const warned = lines.filter((l) => l.level === WARN);
    expect(warned).toEqual([
      expect.objectContaining({ msg: "model unavailable", model: "later", retry_in_ms: 1000 }),
    ]);

    // Within the back-off: the same reason at once, one line, no second warning.
    lines.length = 0;
    const again = await server.post("/v1/messages", { model: "later", ...hi });
    expect(again.status).toBe(500);
    expect(((await again.json()) as { error: { message: string } }).error.message).toBe(body.error.message);
    expectOneLine(again, { type: "api_error" });
    expect(lines.filter((l) => l.level >= WARN)).toEqual([]);
    const listed = await fetch(`${server.url}/v1/models/later`, { headers: { "x-api-key": TEST_KEY } });
    expect(((await listed.json()) as { parley: unknown }).parley).toMatchObject({
      available: false,
      reason: body.error.message,
    });
    if (!tinyPresent) return;

    await copyFile(TINY, later);
    await new Promise((r) => setTimeout(r, 1_100));
    const ok = await server.post("/v1/messages", { model: "later", ...hi });
    expect(ok.status, await ok.clone().text()).toBe(200);
    const now = await fetch(`${server.url}/v1/models/later`, { headers: { "x-api-key": TEST_KEY } });
    expect(((await now.json()) as { parley: unknown }).parley).toMatchObject({ available: true });
    expect(lines.map((l) => l.msg)).toContain("llama model available again");
  });

  it.skipIf(!tinyPresent)(
    "the context-length 400 names the max_tokens asked for and the clamped value, and is not retried",
    async () => {
      const long = "lorem ipsum dolor sit amet ".repeat(100);
      const res = await server.post("/v1/messages", {
        model: "small",
        max_tokens: 32000,
        messages: [{ role: "user", content: long }],
      });
      expect(res.status).toBe(400);
      expect(res.headers.get("x-should-retry")).toBe("false");
      const { error } = (await res.json()) as { error: { message: string } };
      expect(error.message).toMatch(
        /^input length and `max_tokens` exceed context limit: \d+ \+ 600 > 1024 \(max_tokens 32000 requested, clamped to 600 by the model's max_output_tokens\)/,
      );
      expectOneLine(res, { type: "invalid_request_error", error: error.message, msg: "request refused" });
    },
  );

  it.skipIf(!tinyPresent)(
    "a prompt that alone fills the window gets the hosted 'prompt is too long'",
    async () => {
      const res = await server.post("/v1/messages", {
        model: "small",
        max_tokens: 10,
        messages: [{ role: "user", content: "lorem ipsum dolor sit amet ".repeat(300) }],
      });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { message: string } };
      expect(error.message).toMatch(/^prompt is too long: \d+ tokens > 1023 maximum/);
    },
  );

  it.each([
    [{ "x-api-key": "sk-wrong-key-9999" }, "invalid x-api-key", "sk-wron...9999"],
    [
      { authorization: "Bearer sk-wrong-key-8888" },
      "invalid bearer token in the Authorization header",
      "sk-wron...8888",
    ],
    [{ authorization: "Basic dXNlcjpwYXNz" }, "Authorization header must be 'Bearer <api key>'", null],
    [{}, "x-api-key header is required", null],
  ])("a 401 names the header the client used: %j", async (headers, message, hint) => {
    const res = await fetch(`${server.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ model: "mock", ...hi }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { type: "authentication_error", message } });
    expectOneLine(res, { type: "authentication_error", error: message, key: hint, msg: "request refused" });
    // The key itself is never logged, only its hint.
    expect(JSON.stringify(lines)).not.toMatch(/sk-wrong-key-\d{4}/);
  });

  it("every refused request writes one info line: 400, 403, 404, 429", async () => {
    const bad = await server.post("/v1/messages", { model: "mock", max_tokens: "8", messages: [] });
    expect(bad.status).toBe(400);
    expectOneLine(bad, {
      type: "invalid_request_error",
      error: "max_tokens: Input should be a valid integer",
    });

    const scoped = await server.post(
      "/v1/messages",
      { model: "later", ...hi },
      { "x-api-key": "sk-scoped-key-0002" },
    );
    expect(scoped.status).toBe(403);
    expectOneLine(scoped, { type: "permission_error", key: "scoped", model: "later" });

    const unknown = await server.post("/v1/messages", { model: "no-such-model", ...hi });
    expect(unknown.status).toBe(404);
    expectOneLine(unknown, { type: "not_found_error", error: "model: no-such-model" });

    const route = await fetch(`${server.url}/v1/nothing-here`, { headers: { "x-api-key": TEST_KEY } });
    expect(route.status).toBe(404);
    expectOneLine(route, { type: "not_found_error", path: "/v1/nothing-here" });

    const limited = { "x-api-key": "sk-limited-key-0003" };
    expect((await server.post("/v1/messages", { model: "mock", ...hi }, limited)).status).toBe(200);
    const second = await server.post("/v1/messages", { model: "mock", ...hi }, limited);
    expect(second.status).toBe(429);
    expectOneLine(second, { type: "rate_limit_error", key: "limited" });
  });

  it("a served request still writes its one 'message' line", async () => {
    const res = await server.post("/v1/messages", { model: "mock", ...hi });
    expect(res.status).toBe(200);
    const mine = requestLines(res.headers.get("request-id"));
    expect(mine).toEqual([
      expect.objectContaining({ level: INFO, msg: "message", model: "mock", status: 200 }),
    ]);
  });

  it("a client that leaves before a non-streamed reply is done is not logged as a failure", async () => {
    const leave = new AbortController();
    const reply = fetch(`${server.url}/v1/messages`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-key": TEST_KEY,
        "anthropic-version": "2023-06-01",
      },
      body: JSON.stringify({
        model: "mock",
        max_tokens: 50,
        messages: [{ role: "user", content: "[[delay:20]] a b c d e f g h" }],
      }),
      signal: leave.signal,
    });
    setTimeout(() => leave.abort(), 60);
    await expect(reply).rejects.toThrow();
    // The abort reaches the mock's delay at once; give the server a moment to wind the request up.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(
      lines.filter((l) => l.level >= WARN),
      JSON.stringify(lines),
    ).toEqual([]);
    expect(JSON.stringify(lines)).not.toContain("    at ");
  });
});
