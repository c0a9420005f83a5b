import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toEnvelopeError } from "../src/server/errors.ts";
import { parseScrape } from "./helpers/prometheus.ts";
import { parseSse, startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

let server: TestServer;
const LIMITED_KEY = "sk-limited-0001";
const SCOPED_KEY = "sk-scoped-00001";

beforeAll(async () => {
  server = await startTestServer({
    keys: [
      { key: TEST_KEY, name: "test" },
      { key: LIMITED_KEY, name: "limited", rpm: 2 },
      { key: SCOPED_KEY, name: "scoped", models: ["mock*"] },
    ],
    models: [
      { id: "mock", provider: "mock" },
      { id: "solo", provider: "mock", parallel: 1, max_queue: 0 },
      {
        id: "plain",
        provider: "mock",
        capabilities: { tools: false, vision: false, thinking: false, json_schema: false },
      },
    ],
    server: { body_limit_mb: 1, ping_interval_ms: 100 },
  });
});
afterAll(() => server.stop());

const hello = { model: "mock", max_tokens: 10, messages: [{ role: "user", content: "hi" }] };

async function expectEnvelope(res: Response, status: number, type: string, message?: RegExp) {
  expect(res.status).toBe(status);
  expect(res.headers.get("request-id")).toMatch(/^req_01/);
  const body = (await res.json()) as {
    type: string;
    error: { type: string; message: string };
    request_id: string;
  };
  expect(body.type).toBe("error");
  expect(body.error.type).toBe(type);
  expect(body.request_id).toBe(res.headers.get("request-id"));
  if (message) expect(body.error.message).toMatch(message);
  return body;
}

describe("error envelope over raw HTTP", () => {
  it("400 names the field", async () => {
    await expectEnvelope(
      await server.post("/v1/messages", { ...hello, temperature: 1.5 }),
      400,
      "invalid_request_error",
      /^temperature: Input should be less than or equal to 1$/,
    );
    await expectEnvelope(
      await server.post("/v1/messages", { model: "mock", messages: [] }),
      400,
      "invalid_request_error",
      /^max_tokens: Field required$/,
    );
    await expectEnvelope(
      await server.post("/v1/messages", { ...hello, messages: [{ role: "bot", content: "x" }] }),
      400,
      "invalid_request_error",
      /^messages\.0\.role: Input should be 'user', 'assistant' or 'system'$/,
    );
    await expectEnvelope(
      await server.post("/v1/messages", {
        ...hello,
        tools: [{ name: "bad name!", input_schema: { type: "object" } }],
      }),
      400,
      "invalid_request_error",
      /^tools\.0\.name: String should match pattern/,
    );
    await expectEnvelope(
      await server.post("/v1/messages", {
        ...hello,
        tools: [{ name: "t", input_schema: { type: "string" } }],
      }),
      400,
      "invalid_request_error",
      /^tools\.0\.input_schema\.type: Input should be 'object'$/,
    );
    await expectEnvelope(
      await server.post("/v1/messages", "{not json"),
      400,
      "invalid_request_error",
      /parsing the body/,
    );
  });

  it("400 for a tool_use without its tool_result", async () => {
    await expectEnvelope(
      await server.post("/v1/messages", {
        ...hello,
        messages: [
          { role: "user", content: "go" },
          { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "t", input: {} }] },
          { role: "user", content: "and?" },
        ],
      }),
      400,
      "invalid_request_error",
      /^messages\.2: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1/,
    );
  });

  it("401 without or with a wrong key, before the body is read", async () => {
    const res = await fetch(`${server.url}/v1/messages`, { method: "POST", body: "{}" });
    await expectEnvelope(res, 401, "authentication_error", /x-api-key/);
    await expectEnvelope(
      await server.post("/v1/messages", hello, { "x-api-key": "sk-wrong-key" }),
      401,
      "authentication_error",
    );
  });

  it("403 for a model outside the key's globs", async () => {
    await expectEnvelope(
      await server.post("/v1/messages", { ...hello, model: "plain" }, { "x-api-key": SCOPED_KEY }),
      403,
      "permission_error",
    );
    expect((await server.post("/v1/messages", hello, { "x-api-key": SCOPED_KEY })).status).toBe(200);
  });

  it("404 for an unknown model and an unknown route", async () => {
    await expectEnvelope(
      await server.post("/v1/messages", { ...hello, model: "gpt-9" }),
      404,
      "not_found_error",
      /gpt-9/,
    );
    await expectEnvelope(await server.post("/v2/nothing", hello), 404, "not_found_error");
  });

  it("413 for a body over the limit", async () => {
    const big = { ...hello, messages: [{ role: "user", content: "x".repeat(1024 * 1024 + 10) }] };
    const count = async () =>
      parseScrape(await (await fetch(`${server.url}/metrics`)).text()).value("parley_requests_total", {
        model: "other",
        status: "413",
        error_type: "request_too_large",
      });
    const before = await count();
    await expectEnvelope(await server.post("/v1/messages", big), 413, "request_too_large");
    expect((await count()) - before).toBe(1); // counted, with no model: the body was never parsed
  });

  it("422 when the model lacks a requested feature", async () => {
    const plain = { ...hello, model: "plain" };
    await expectEnvelope(
      await server.post("/v1/messages", {
        ...plain,
        tools: [{ name: "t", input_schema: { type: "object" } }],
      }),
      422,
      "invalid_request_error",
      /tool use/,
    );
    const image = { type: "image", source: { type: "url", url: "https://example.com/a.png" } };
    await expectEnvelope(
      await server.post("/v1/messages", { ...plain, messages: [{ role: "user", content: [image] }] }),
      422,
      "invalid_request_error",
      /image/,
    );
    await expectEnvelope(
      await server.post("/v1/messages", {
        ...plain,
        max_tokens: 2000,
        thinking: { type: "enabled", budget_tokens: 1024 },
      }),
      422,
      "invalid_request_error",
      /thinking/,
    );
    await expectEnvelope(
      await server.post("/v1/messages", {
        ...hello,
        tools: [{ type: "web_search_20250305", name: "web_search", max_uses: 8 }],
      }),
      422,
      "invalid_request_error",
      /server tool web_search/,
    );
  });

  it("429 with retry-after when the key's rpm is spent", async () => {
    const h = { "x-api-key": LIMITED_KEY };
    const first = await server.post("/v1/messages", hello, h);
    expect(first.status).toBe(200);
    expect(first.headers.get("anthropic-ratelimit-requests-limit")).toBe("2");
    expect(first.headers.get("anthropic-ratelimit-requests-remaining")).toBe("1");
    expect((await server.post("/v1/messages", hello, h)).status).toBe(200);
    const third = await server.post("/v1/messages", hello, h);
    await expectEnvelope(third, 429, "rate_limit_error", /2 requests per minute/);
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(third.headers.get("x-should-retry")).toBe("true");
  });

  it("500 api_error without internals, 529 overloaded_error when the queue is full", async () => {
    const boom = toEnvelopeError(
      new Error("ECONNREFUSED secret-host:5432 at Object.<anonymous> (/srv/x.js:1)"),
      32,
    );
    expect(boom.toEnvelope("req_x")).toEqual({
      type: "error",
      error: { type: "api_error", message: "Internal server error" },
      request_id: "req_x",
    });
    await expectEnvelope(
      await server.post("/v1/messages", { ...hello, messages: [{ role: "user", content: "[[error:500]]" }] }),
      500,
      "api_error",
    );
    const slow = server.post("/v1/messages", {
      ...hello,
      model: "solo",
      messages: [{ role: "user", content: "[[delay:150]] a b" }],
    });
    await new Promise((r) => setTimeout(r, 50));
    await expectEnvelope(
      await server.post("/v1/messages", { ...hello, model: "solo" }),
      529,
      "overloaded_error",
    );
    expect((await slow).status).toBe(200);
  });
});

describe("each error class through the SDK", () => {
  const client = () => server.client();
  const cases: [string, Record<string, unknown>, new (...args: never[]) => Error][] = [
    ["400", { ...hello, max_tokens: -1 }, Anthropic.BadRequestError],
    ["404", { ...hello, model: "missing" }, Anthropic.NotFoundError],
    [
      "422",
      { ...hello, model: "plain", output_config: { format: { type: "json_schema", schema: {} } } },
      Anthropic.UnprocessableEntityError,
    ],
    ["429", { ...hello, messages: [{ role: "user", content: "[[error:429]]" }] }, Anthropic.RateLimitError],
    [
      "500",
      { ...hello, messages: [{ role: "user", content: "[[error:500]]" }] },
      Anthropic.InternalServerError,
    ],
    [
      "529",
      { ...hello, messages: [{ role: "user", content: "[[error:529]]" }] },
      Anthropic.InternalServerError,
    ],
  ];
  for (const [status, body, cls] of cases) {
    it(`${status} raises ${cls.name} with the request id`, async () => {
      const err = await client()
        .messages.create(body as unknown as Anthropic.MessageCreateParamsNonStreaming)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(cls);
      expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(Number(status));
      expect((err as InstanceType<typeof Anthropic.APIError>).requestID).toMatch(/^req_01/);
    });
  }

  it("401 raises AuthenticationError, 403 PermissionDeniedError", async () => {
    await expect(
      server.client({ apiKey: "sk-nope-0000" }).messages.create(hello as never),
    ).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    await expect(
      server.client({ apiKey: SCOPED_KEY }).messages.create({ ...hello, model: "plain" } as never),
    ).rejects.toBeInstanceOf(Anthropic.PermissionDeniedError);
  });

  it("a mid-stream error event becomes an APIError in the SDK", async () => {
    const stream = client().messages.stream({
      model: "mock",
      max_tokens: 10,
      messages: [{ role: "user", content: "x [[stream-error]]" }],
    });
    await expect(stream.finalMessage()).rejects.toThrow(/Overloaded/);
  });
});

describe("keep-alive", () => {
  it("sends pings while the model is slow", async () => {
    const res = await server.post("/v1/messages", {
      ...hello,
      stream: true,
      messages: [{ role: "user", content: "[[delay:450]] slow reply" }],
    });
    const events = parseSse(await res.text()).map((e) => e.event);
    const pings = events.filter((e) => e === "ping").length;
    expect(pings).toBeGreaterThanOrEqual(4);
    expect(events.filter((e) => e !== "ping")).toEqual([
      "message_start",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
  });
});

describe("cancellation", () => {
  it("a client that disconnects mid-stream frees its slot and the server stays healthy", async () => {
    const abort = new AbortController();
    const res = await fetch(`${server.url}/v1/messages`, {
      method: "POST",
      signal: abort.signal,
      headers: { "content-type": "application/json", "x-api-key": TEST_KEY },
      body: JSON.stringify({
        model: "solo",
        max_tokens: 1000,
        stream: true,
        messages: [{ role: "user", content: `[[delay:100]] ${"word ".repeat(500)}` }],
      }),
    });
    const reader = res.body?.getReader();
    const first = await reader?.read();
    expect(new TextDecoder().decode(first?.value)).toContain("event: message_start");
    abort.abort();
    let status = 0;
    for (let i = 0; i < 40 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await server.post("/v1/messages", { ...hello, model: "solo" })).status;
    }
    expect(status).toBe(200);
    const sse = await server.post("/v1/messages", { ...hello, model: "solo", stream: true });
    expect(parseSse(await sse.text()).at(-1)?.event).toBe("message_stop");
  });
});
