/**
 * The MCP connector end to end: a real MCP server (official SDK) on loopback, Parley on loopback,
 * the official SDK's beta client driving the mock and a fake OpenAI-compatible upstream.
 */
import { Writable } from "node:stream";
import type Anthropic from "@anthropic-ai/sdk";
import type {
  BetaMessage,
  BetaRawMessageStreamEvent,
} from "@anthropic-ai/sdk/resources/beta/messages/messages";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FakeUpstream,
  hang,
  json,
  type RecordedRequest,
  replyOpenAI,
  startFakeUpstream,
} from "./fakes/http-upstream.ts";
import { type FakeMcpServer, startFakeMcpServer } from "./fakes/mcp-server.ts";
import { foldChunks, vllm } from "./fakes/openai-chunks.ts";
import { startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

const TOKEN = "mcp-token-3b1f9c0e77d2";
const NARROW_KEY = "sk-test-narrow-0002";
const BETA = ["mcp-client-2025-11-20"];

/** The OpenAI-style upstream: calls the MCP `add` tool first, then reports what the tool said. */
function openaiUpstream(req: RecordedRequest, res: import("node:http").ServerResponse) {
  const body = req.body as { messages?: { role: string; content?: unknown }[] } | undefined;
  if (!body?.messages) return json(res, 200, { object: "list", data: [{ id: "qwen", object: "model" }] });
  const toolMessage = body.messages.find((m) => m.role === "tool");
  const chunks = toolMessage
    ? vllm.text([`The sum is `, String(toolMessage.content)], [30, 4])
    : vllm.toolCalls([{ id: "call_1", name: "docs_add", fragments: ['{"a": 2', ', "b": 40}'] }], [25, 9]);
  return replyOpenAI(req, res, chunks, foldChunks);
}

describe("MCP connector", () => {
  let mcp: FakeMcpServer;
  let upstream: FakeUpstream;
  let anthropic: FakeUpstream;
  let server: TestServer;
  let strict: TestServer;
  let client: Anthropic;
  const logLines: string[] = [];

  beforeAll(async () => {
    mcp = await startFakeMcpServer();
    upstream = await startFakeUpstream(openaiUpstream);
    anthropic = await startFakeUpstream((_req, res) =>
      json(res, 200, {
        id: "msg_01Upstream",
        type: "message",
        role: "assistant",
        model: "claude-sonnet-4-5",
        content: [{ type: "text", text: "from upstream" }],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage: { input_tokens: 3, output_tokens: 2 },
      }),
    );
    const logger = pino(
      { level: "trace" },
      new Writable({
        write(chunk, _enc, done) {
          logLines.push(String(chunk));
          done();
        },
      }),
    );
    server = await startTestServer(
      {
        keys: [
          { key: TEST_KEY, name: "test" },
          { key: NARROW_KEY, name: "narrow", mcp_allowed_hosts: ["mcp.example.com"] },
        ],
        models: [
          { id: "mock", provider: "mock" },
          { id: "gpt", provider: "openai", base_url: `${upstream.origin}/v1`, upstream_model: "qwen" },
          { id: "claude", provider: "anthropic", base_url: anthropic.origin, health_check_ms: 0 },
        ],
        mcp: {
          allowed_hosts: ["127.0.0.1"],
          call_timeout_ms: 400,
          connect_timeout_ms: 800,
          max_iterations: 3,
        },
      },
      { logger },
    );
    // No allowlist: loopback, link-local and private addresses are refused.
    strict = await startTestServer({});
    client = server.client();
  });
  afterAll(async () => {
    await server?.stop();
    await strict?.stop();
    await upstream?.close();
    await anthropic?.close();
    await mcp?.close();
  });

  const docs = (extra: Record<string, unknown> = {}) => ({
    type: "url" as const,
    url: `${mcp.origin}/mcp`,
    name: "docs",
    authorization_token: TOKEN,
    ...extra,
  });
  const ask = (content: string, extra: Partial<Anthropic.Beta.MessageCreateParamsNonStreaming> = {}) =>
    client.beta.messages.create({
      model: "mock",
      max_tokens: 400,
      betas: BETA,
      mcp_servers: [docs()],
      tools: [{ type: "mcp_toolset", mcp_server_name: "docs" }],
      messages: [{ role: "user", content }],
      ...extra,
    });

  it("runs a scripted MCP call on the mock and returns mcp_tool_use + mcp_tool_result in one reply", async () => {
    const reply = await ask('Look it up [[mcp:docs/echo {"text":"hi there"}]]');
    const [listing, intro, use, result, answer] = reply.content;
    expect(listing).toMatchObject({ type: "mcp_tool_listing", mcp_server_name: "docs" });
    const listed = listing.type === "mcp_tool_listing" ? listing.tools : [];
    expect(listed.map((t) => t.name)).toContain("echo");
    expect(listed.find((t) => t.name === "echo")?.input_schema).toMatchObject({ type: "object" });
    expect(intro).toEqual({ type: "text", text: "Look it up", citations: null });
    expect(use).toMatchObject({
      type: "mcp_tool_use",
      name: "echo",
      server_name: "docs",
      input: { text: "hi there" },
    });
    expect(use.type === "mcp_tool_use" && use.id).toMatch(/^mcptoolu_01[0-9A-Za-z]{22}$/);
    expect(result).toEqual({
      type: "mcp_tool_result",
      tool_use_id: use.type === "mcp_tool_use" ? use.id : "",
      is_error: false,
      content: [{ type: "text", text: "echo: hi there", citations: null }],
    });
    expect(answer).toMatchObject({ type: "text", text: "echo: hi there" });
    expect(reply.content).toHaveLength(5);
    expect(reply.stop_reason).toBe("end_turn");
    const passes = reply.usage.iterations ?? [];
    expect(passes).toHaveLength(2);
    const sum = (k: "input_tokens" | "output_tokens") =>
      passes.reduce((n, p) => n + (p as unknown as Record<string, number>)[k], 0);
    expect(reply.usage.input_tokens).toBe(sum("input_tokens"));
    expect(reply.usage.output_tokens).toBe(sum("output_tokens"));
    expect(passes[1].input_tokens).toBeGreaterThan(passes[0].input_tokens);

    // Sent back, the listing spares the next request a tools/list, even under a token not cached.
    const lists = () => mcp.requests.filter((r) => r.rpc === "tools/list").length;
    const before = lists();
    const next = await ask("", {
      mcp_servers: [docs({ authorization_token: "token-never-listed" })],
      messages: [
        { role: "user", content: "Look it up" },
        { role: "assistant", content: reply.content as Anthropic.Beta.BetaContentBlockParam[] },
        { role: "user", content: '[[mcp:docs/echo {"text":"again"}]]' },
      ],
    });
    expect(lists()).toBe(before);
    expect(next.content.map((b) => b.type)).toEqual(["mcp_tool_use", "mcp_tool_result", "text"]);
  });

  it("streams the same reply as one message: one message_start, indexes running on, one message_delta", async () => {
    const events: BetaRawMessageStreamEvent[] = [];
    const stream = client.beta.messages.stream({
      model: "mock",
      max_tokens: 400,
      betas: BETA,
      mcp_servers: [docs()],
      tools: [{ type: "mcp_toolset", mcp_server_name: "docs" }],
      messages: [{ role: "user", content: 'Look it up [[mcp:docs/echo {"text":"streamed"}]]' }],
    });
    stream.on("streamEvent", (e) => events.push(e));
    const final = await stream.finalMessage();
    const types = events.map((e) => e.type);
    expect(types.filter((t) => t === "message_start")).toHaveLength(1);
    expect(types.filter((t) => t === "message_delta")).toHaveLength(1);
    expect(types.at(-1)).toBe("message_stop");
    const starts = events.flatMap((e) => (e.type === "content_block_start" ? [e.index] : []));
    expect(starts).toEqual([0, 1, 2, 3, 4]);
    expect(final.content.map((b) => b.type)).toEqual([
      "mcp_tool_listing",
      "text",
      "mcp_tool_use",
      "mcp_tool_result",
      "text",
    ]);
    expect(final.content[2]).toMatchObject({ input: { text: "streamed" }, server_name: "docs" });
    expect(final.content[3]).toMatchObject({
      content: [{ type: "text", text: "echo: streamed" }],
      is_error: false,
    });
    const delta = events.find((e) => e.type === "message_delta");
    expect(delta?.type === "message_delta" && delta.usage.input_tokens).toBe(final.usage.input_tokens);
    expect(final.usage.iterations).toHaveLength(2);
  });

  it("sends authorization_token as a Bearer token, and caches the tool list per URL and token", async () => {
    const lists = () => mcp.requests.filter((r) => r.rpc === "tools/list").length;
    const before = lists();
    const reply = await ask("[[mcp:docs/whoami {}]]");
    expect(reply.content.find((b) => b.type === "mcp_tool_result")).toMatchObject({
      content: [{ text: TOKEN }],
    });
    await ask("[[mcp:docs/whoami {}]]");
    expect(lists()).toBe(before); // listed by an earlier test with the same URL and token
    await ask("[[mcp:docs/whoami {}]]", { mcp_servers: [docs({ authorization_token: "another-token" })] });
    expect(lists()).toBe(before + 1);
    expect(
      mcp.requests.filter((r) => r.rpc === "tools/call").every((r) => r.authorization?.startsWith("Bearer ")),
    ).toBe(true);
  });

  it("speaks the older SSE transport and the 2025-04-04 tool_configuration (allowed_tools)", async () => {
    const reply = await client.beta.messages.create({
      model: "mock",
      max_tokens: 400,
      betas: ["mcp-client-2025-04-04"],
      mcp_servers: [
        {
          type: "url",
          url: `${mcp.origin}/sse`,
          name: "legacy",
          tool_configuration: { enabled: true, allowed_tools: ["add"] },
        },
      ],
      messages: [
        { role: "user", content: '[[mcp:legacy/add {"a":2,"b":3}]] [[mcp:legacy/echo {"text":"no"}]]' },
      ],
    });
    const uses = reply.content.filter((b) => b.type === "mcp_tool_use");
    expect(uses).toEqual([
      expect.objectContaining({ name: "add", server_name: "legacy", input: { a: 2, b: 3 } }),
    ]);
    expect(reply.content.find((b) => b.type === "mcp_tool_result")).toMatchObject({
      content: [{ text: "5" }],
    });
    expect(mcp.requests.some((r) => r.method === "GET" && r.path === "/sse")).toBe(true);
  });

  it("turns a failing tool and a timed-out tool into is_error results the model sees", async () => {
    const failed = await ask("[[mcp:docs/fail {}]]");
    expect(failed.content.find((b) => b.type === "mcp_tool_result")).toMatchObject({
      is_error: true,
      content: [{ type: "text", text: "the fail tool failed on purpose" }],
    });
    expect(failed.content.at(-1)).toMatchObject({ type: "text", text: "the fail tool failed on purpose" });
    const slow = await ask('[[mcp:docs/slow {"ms":3000}]]');
    const result = slow.content.find((b) => b.type === "mcp_tool_result");
    expect(result).toMatchObject({ is_error: true });
    expect(JSON.stringify(result)).toMatch(/slow on MCP server 'docs' failed: .*timed out/i);
  });

  it("limits the size of a tool result", async () => {
    const reply = await ask("[[mcp:docs/big {}]]", { max_tokens: 5 });
    const result = reply.content.find((b) => b.type === "mcp_tool_result");
    const body =
      result?.type === "mcp_tool_result" && Array.isArray(result.content) ? result.content[0].text : "";
    expect(body.length).toBeLessThan(101_000);
    expect(body).toMatch(/\[truncated: the tool result exceeded 100000 bytes\]$/);
  });

  it("never offers a disabled tool, and defers as configured", async () => {
    upstream.requests.length = 0;
    await client.beta.messages.create({
      model: "gpt",
      max_tokens: 100,
      betas: BETA,
      mcp_servers: [docs()],
      tools: [
        {
          type: "mcp_toolset",
          mcp_server_name: "docs",
          default_config: { enabled: false },
          configs: { add: { enabled: true }, echo: { enabled: true, defer_loading: true } },
        },
      ],
      messages: [{ role: "user", content: "What is 2 + 40?" }],
    });
    const offered = (upstream.requests[0].body as { tools: { function: { name: string } }[] }).tools;
    expect(offered.map((t) => t.function.name)).toEqual(["docs_add"]);
  });

  it("routes a fake OpenAI upstream's tool call to the MCP server and continues with the result", async () => {
    upstream.requests.length = 0;
    for (const stream of [false, true]) {
      const params = {
        model: "gpt",
        max_tokens: 100,
        betas: BETA,
        mcp_servers: [docs()],
        tools: [{ type: "mcp_toolset" as const, mcp_server_name: "docs" }],
        messages: [{ role: "user" as const, content: "What is 2 + 40?" }],
      };
      const reply: BetaMessage = stream
        ? await client.beta.messages.stream(params).finalMessage()
        : await client.beta.messages.create(params);
      expect(reply.content.map((b) => b.type)).toEqual([
        "mcp_tool_listing",
        "mcp_tool_use",
        "mcp_tool_result",
        "text",
      ]);
      expect(reply.content[1]).toMatchObject({ name: "add", server_name: "docs", input: { a: 2, b: 40 } });
      expect(reply.content[2]).toMatchObject({ is_error: false, content: [{ type: "text", text: "42" }] });
      expect(reply.content[3]).toMatchObject({ type: "text", text: "The sum is 42" });
      expect(reply.stop_reason).toBe("end_turn");
      expect(reply.usage).toMatchObject({ input_tokens: 25 + 30, output_tokens: 9 + 4 });
    }
    const second = upstream.requests[1].body as { messages: Record<string, unknown>[] };
    expect(second.messages.at(-1)).toMatchObject({ role: "tool", content: "42" });
  });

  it("renders mcp_tool_use / mcp_tool_result sent back in history as tool calls for the model", async () => {
    upstream.requests.length = 0;
    await client.beta.messages.create({
      model: "gpt",
      max_tokens: 100,
      betas: BETA,
      mcp_servers: [docs()],
      tools: [{ type: "mcp_toolset", mcp_server_name: "docs" }],
      messages: [
        { role: "user", content: "What is 1 + 1?" },
        {
          role: "assistant",
          content: [
            {
              type: "mcp_tool_use",
              id: "mcptoolu_1",
              name: "add",
              server_name: "docs",
              input: { a: 1, b: 1 },
            },
            { type: "mcp_tool_result", tool_use_id: "mcptoolu_1", content: [{ type: "text", text: "2" }] },
            { type: "text", text: "It is 2." },
          ],
        },
        { role: "user", content: "And 2 + 40?" },
      ],
    });
    const sent = (upstream.requests[0].body as { messages: Record<string, unknown>[] }).messages;
    expect(sent.map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant", "user"]);
    expect(sent[1]).toMatchObject({
      tool_calls: [{ id: "mcptoolu_1", function: { name: "docs_add", arguments: '{"a":1,"b":1}' } }],
    });
    expect(sent[2]).toMatchObject({ tool_call_id: "mcptoolu_1", content: "2" });
  });

  it("ends the turn at a client tool called next to an MCP tool, and accepts the history back", async () => {
    const weather = {
      name: "get_weather",
      input_schema: { type: "object" as const, properties: { city: { type: "string" } } },
    };
    const reply = await ask('[[mcp:docs/echo {"text":"x"}]] [[tool:get_weather {"city":"Oslo"}]]', {
      tools: [{ type: "mcp_toolset", mcp_server_name: "docs" }, weather],
    });
    expect(reply.content.map((b) => b.type)).toEqual([
      "mcp_tool_listing",
      "mcp_tool_use",
      "tool_use",
      "mcp_tool_result",
    ]);
    expect(reply.stop_reason).toBe("tool_use");
    const call = reply.content[2];
    const next = await ask("", {
      tools: [{ type: "mcp_toolset", mcp_server_name: "docs" }, weather],
      messages: [
        { role: "user", content: "weather?" },
        { role: "assistant", content: reply.content as Anthropic.Beta.BetaContentBlockParam[] },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: call.type === "tool_use" ? call.id : "", content: "sunny" },
          ],
        },
      ],
    });
    expect(next.content.at(-1)).toMatchObject({ type: "text" });
    expect(next.stop_reason).toBe("end_turn");
  });

  it("stops with pause_turn at the iteration bound, forced choice only on the first pass", async () => {
    const reply = await ask("[[mcp:docs/again {}]]");
    expect(reply.content.filter((b) => b.type === "mcp_tool_use")).toHaveLength(3);
    expect(reply.content.filter((b) => b.type === "mcp_tool_result")).toHaveLength(3);
    expect(reply.stop_reason).toBe("pause_turn");
    const forced = await ask("no directive here", { tool_choice: { type: "tool", name: "echo" } });
    expect(forced.content[1]).toMatchObject({ type: "mcp_tool_use", name: "echo" });
    expect(forced.content.at(-1)).toMatchObject({ type: "text" });
    expect(forced.stop_reason).toBe("end_turn");
  });

  it("refuses loopback without an allowlist, by address and by a name that resolves to it, without connecting", async () => {
    const seen = mcp.requests.length;
    const port = new URL(mcp.origin).port;
    for (const url of [
      `http://127.0.0.1:${port}/mcp`,
      `http://localhost:${port}/mcp`,
      `http://[::1]:${port}/mcp`,
      "http://10.1.2.3/mcp",
      "http://169.254.169.254/latest",
    ]) {
      const res = await strict.post(
        "/v1/messages?beta=true",
        {
          model: "mock",
          max_tokens: 50,
          mcp_servers: [{ type: "url", url, name: "inside" }],
          messages: [{ role: "user", content: "hi" }],
        },
        { "anthropic-beta": "mcp-client-2025-04-04" },
      );
      expect(res.status, url).toBe(400);
      const body = (await res.json()) as { error: { type: string; message: string } };
      expect(body.error.type).toBe("invalid_request_error");
      expect(body.error.message).toMatch(
        /^mcp_servers\.0: MCP server 'inside' may not be reached: .*(loopback|private)/,
      );
    }
    expect(mcp.requests.length).toBe(seen);
  });

  it("refuses a host outside a key's mcp_allowed_hosts, and an unlisted host under the server allowlist", async () => {
    const narrow = server.client({ apiKey: NARROW_KEY });
    await expect(
      narrow.beta.messages.create({
        model: "mock",
        max_tokens: 50,
        betas: BETA,
        mcp_servers: [docs()],
        tools: [{ type: "mcp_toolset", mcp_server_name: "docs" }],
        messages: [{ role: "user", content: "hi" }],
      }),
    ).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/this API key's mcp_allowed_hosts/),
    });
    await expect(
      ask("hi", { mcp_servers: [docs({ url: "http://mcp.example.net/mcp" })] }),
    ).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/mcp\.example\.net:80 is not in the server's mcp\.allowed_hosts/),
    });
  });

  it("answers an unreachable server with a 400 naming it", async () => {
    const err = await ask("hi", {
      mcp_servers: [docs({ url: "http://127.0.0.1:9/mcp", name: "gone" })],
      tools: [{ type: "mcp_toolset", mcp_server_name: "gone" }],
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      status: 400,
      message: expect.stringMatching(/could not connect to MCP server 'gone' \(http:\/\/127\.0\.0\.1:9\)/),
    });
  });

  it("checks servers and toolsets against each other, and count_tokens refuses mcp_servers", async () => {
    await expect(
      ask("hi", { tools: [{ type: "mcp_toolset", mcp_server_name: "nope" }] }),
    ).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/tools\.0\.mcp_server_name: MCP server 'nope' is not declared/),
    });
    await expect(ask("hi", { mcp_servers: [docs(), docs()] })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/mcp_servers\.1\.name: MCP server names must be unique/),
    });
    const res = await server.post("/v1/messages/count_tokens?beta=true", {
      model: "mock",
      mcp_servers: [docs()],
      messages: [{ role: "user", content: "hi" }],
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/mcp_servers/);
  });

  it("uses a toolset's pinned tool listing instead of asking the server for its tools", async () => {
    const lists = () => mcp.requests.filter((r) => r.rpc === "tools/list").length;
    const before = lists();
    const reply = await ask('[[mcp:docs/add {"a":20,"b":22}]]', {
      mcp_servers: [docs({ authorization_token: "pinned-listing-token" })],
      tools: [
        {
          type: "mcp_toolset",
          mcp_server_name: "docs",
          tools: [{ name: "add", input_schema: { type: "object", properties: { a: {}, b: {} } } }],
        },
      ],
    });
    expect(reply.content.find((b) => b.type === "mcp_tool_result")).toMatchObject({
      content: [{ text: "42" }],
    });
    expect(lists()).toBe(before);
  });

  it("passes mcp_servers and mcp_toolset through untouched to an anthropic upstream", async () => {
    const params = {
      model: "claude",
      max_tokens: 50,
      betas: BETA,
      mcp_servers: [docs()],
      tools: [{ type: "mcp_toolset" as const, mcp_server_name: "docs", default_config: { enabled: true } }],
      messages: [{ role: "user" as const, content: "hi" }],
    };
    const reply = await client.beta.messages.create(params);
    expect(reply.content).toEqual([{ type: "text", text: "from upstream" }]);
    const sent = anthropic.requests.at(-1)?.body as Record<string, unknown>;
    expect(sent.mcp_servers).toEqual(params.mcp_servers);
    expect(sent.tools).toEqual(params.tools);
    expect(anthropic.requests.at(-1)?.headers["anthropic-beta"]).toContain("mcp-client-2025-11-20");
  });

  it("opens one connection per server for a whole request, however many calls and passes", async () => {
    const inits = () => mcp.requests.filter((r) => r.rpc === "initialize").length;
    const before = inits();
    const reply = await ask(
      '[[mcp:docs/add {"a":1,"b":1}]] [[mcp:docs/add {"a":2,"b":2}]] [[mcp:docs/again {}]]',
      { mcp_servers: [docs({ authorization_token: "reuse-token" })] },
    );
    expect(reply.content.filter((b) => b.type === "mcp_tool_result").length).toBeGreaterThanOrEqual(4);
    expect(inits() - before).toBe(1); // tools/list and every call share it
  });

  it("gives up on a server that accepts the connection but never answers (connect timeout)", async () => {
    const silent = await startFakeUpstream(hang);
    try {
      const err = await ask("hi", {
        mcp_servers: [docs({ url: `${silent.origin}/mcp`, name: "silent" })],
        tools: [{ type: "mcp_toolset", mcp_server_name: "silent" }],
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({
        status: 400,
        message: expect.stringMatching(/could not connect to MCP server 'silent'/),
      });
    } finally {
      await silent.close();
    }
  });

  it("never writes the authorization token to the logs", () => {
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join("")).not.toContain(TOKEN);
  });
});
