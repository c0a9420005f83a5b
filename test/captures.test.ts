/**
 * Replays every request real clients sent to the capture server (../shared/wire/captures/*.jsonl)
 * against Parley with mock models named as in the captures, and checks each reply's shape.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConfigFile } from "../src/config/index.ts";
import { parseSse, startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

interface Capture {
  file: string;
  seq: number;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Record<string, unknown> | null;
}

type Json = Record<string, unknown>;

const repoRoot = resolve(import.meta.dirname, "..");
const sharedDir = process.env.PARLEY_SHARED_DIR ?? resolve(repoRoot, "../shared");
const capturesDir = join(sharedDir, "wire", "captures");
const captures = loadCaptures(capturesDir);

function loadCaptures(dir: string): Capture[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .sort()
    .flatMap((file) =>
      readFileSync(join(dir, file), "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => ({ file, ...(JSON.parse(line) as Omit<Capture, "file">) })),
    );
}

/** Every model name the captured requests use: in bodies, batch params and pagination cursors. */
function modelNames(all: Capture[]): string[] {
  const names = new Set<string>();
  for (const c of all) {
    if (typeof c.body?.model === "string") names.add(c.body.model);
    for (const r of (c.body?.requests as { params?: { model?: string } }[] | undefined) ?? []) {
      if (r.params?.model) names.add(r.params.model);
    }
    for (const cursor of [c.query.after_id, c.query.before_id]) if (cursor) names.add(cursor);
  }
  return [...names].sort();
}

/** `claude-*` names become model ids; the rest (the capture server's `test-error-*`) aliases of `mock`. */
function mockModels(names: string[]): NonNullable<ConfigFile["models"]> {
  const ids = names.filter((n) => n.startsWith("claude-"));
  const aliases = names.filter((n) => !n.startsWith("claude-"));
  return [
    ...ids.map((id) => ({ id, provider: "mock" as const })),
    { id: "mock", provider: "mock" as const, aliases },
  ];
}

const models = mockModels(modelNames(captures));

/** The captured headers, with the test key in the credential header the client used. */
function replayHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    // The transport sets these itself.
    if (name === "host" || name === "content-length") continue;
    out[name] =
      name === "x-api-key" || name === "authorization" ? value.replace("REDACTED", TEST_KEY) : value;
  }
  return out;
}

async function replay(server: TestServer, c: Capture): Promise<Response> {
  const query = new URLSearchParams(c.query).toString();
  return fetch(`${server.url}${c.path}${query ? `?${query}` : ""}`, {
    method: c.method,
    headers: replayHeaders(c.headers),
    body: c.body === null ? undefined : JSON.stringify(c.body),
  });
}

async function expectEnvelope(res: Response, statuses: number[], type?: string): Promise<Json> {
  expect(statuses).toContain(res.status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await res.json()) as { type: string; error: Json; request_id: string };
  expect(body).toEqual({
    type: "error",
    error: { type: type ?? expect.any(String), message: expect.any(String) },
    request_id: res.headers.get("request-id"),
  });
  return body.error;
}

/** Rebuilds the Message from an SSE body, checking the exact event grammar on the way. */
function foldSse(text: string): Json {
  const events = parseSse(text).filter((e) => e.event !== "ping");
  const names = events.map((e) => e.event);
  expect(names[0]).toBe("message_start");
  expect(names.slice(-2)).toEqual(["message_delta", "message_stop"]);
  const message = structuredClone(events[0].data.message) as Json & { content: Json[]; usage: Json };
  expect(message).toMatchObject({ content: [], stop_reason: null, stop_sequence: null });
  let open: number | undefined;
  let json = "";
  for (const { event, data } of events.slice(1, -2)) {
    const index = data.index as number;
    if (event === "content_block_start") {
      expect(open).toBeUndefined();
      expect(index).toBe(message.content.length);
      message.content.push(structuredClone(data.content_block) as Json);
      open = index;
      json = "";
    } else if (event === "content_block_delta") {
      expect(index).toBe(open);
      json += applyDelta(message.content[index], data.delta as Json);
    } else if (event === "content_block_stop") {
      expect(index).toBe(open);
      if (message.content[index].type === "tool_use") message.content[index].input = JSON.parse(json || "{}");
      open = undefined;
    } else {
      throw new Error(`unexpected event ${event} between message_start and message_delta`);
    }
  }
  expect(open).toBeUndefined();
  const delta = events[events.length - 2].data as { delta: Json; usage: Json };
  Object.assign(message, delta.delta);
  Object.assign(message.usage, delta.usage);
  return message;
}

/** Applies one delta to its block; returns the partial JSON for tool_use blocks. */
function applyDelta(block: Json, delta: Json): string {
  const expected: Record<string, string> = {
    text_delta: "text",
    thinking_delta: "thinking",
    signature_delta: "thinking",
    input_json_delta: "tool_use",
  };
  expect(block.type).toBe(expected[delta.type as string]);
  if (delta.type === "text_delta") block.text = `${block.text}${delta.text}`;
  if (delta.type === "thinking_delta") block.thinking = `${block.thinking}${delta.thinking}`;
  if (delta.type === "signature_delta") block.signature = delta.signature;
  return delta.type === "input_json_delta" ? (delta.partial_json as string) : "";
}

/** What any reply to this request must look like, however it was delivered. */
function checkMessage(message: Json, body: Json, apiVersion: string | undefined): void {
  expect(message.id).toMatch(/^msg_01[0-9A-Za-z]{22}$/);
  expect(message).toMatchObject({ type: "message", role: "assistant", model: body.model });
  const content = message.content as Json[];
  expect(content.length).toBeGreaterThan(0);
  expect(content[0]).not.toEqual(expect.objectContaining({ type: "text", text: "" }));
  checkStop(message, body);
  checkBlocks(content, body);
  checkUsage(message.usage as Json, body, apiVersion);
  if (apiVersion === "2026-10-21") {
    expect(message).toMatchObject({ container: null, diagnostics: null, stop_details: null });
  }
}

function checkStop(message: Json, body: Json): void {
  const content = message.content as Json[];
  expect(["end_turn", "max_tokens", "stop_sequence", "tool_use"]).toContain(message.stop_reason);
  if (content.some((b) => b.type === "tool_use")) expect(message.stop_reason).toBe("tool_use");
  if (message.stop_reason === "stop_sequence") expect(body.stop_sequences).toContain(message.stop_sequence);
  else expect(message.stop_sequence).toBeNull();
}

function checkBlocks(content: Json[], body: Json): void {
  const toolNames = ((body.tools as Json[] | undefined) ?? []).map((t) => t.name);
  for (const block of content) {
    if (block.type === "text")
      expect(block).toEqual({ type: "text", text: expect.any(String), citations: null });
    else if (block.type === "thinking") {
      expect(block).toEqual({
        type: "thinking",
        thinking: expect.any(String),
        signature: expect.any(String),
      });
      expect(block.signature).not.toBe("");
    } else {
      expect(block).toEqual({
        type: "tool_use",
        id: expect.stringMatching(/^toolu_01[0-9A-Za-z]{22}$/),
        name: expect.any(String),
        input: expect.any(Object),
      });
      expect(toolNames).toContain(block.name);
    }
  }
  const choice = body.tool_choice as Json | undefined;
  const toolUses = content.filter((b) => b.type === "tool_use");
  if (choice?.type === "tool") expect(toolUses.map((b) => b.name)).toEqual([choice.name]);
  if (choice?.type === "none") expect(toolUses).toEqual([]);
  const format = (body.output_config as Json | undefined)?.format as Json | undefined;
  if (format) checkStructuredOutput(content, format.schema as Json);
  else if (toolUses.length === 0) checkEcho(content, body);
}

/** The mock echoes the last user message's text (DESIGN: "The mock backend"). */
function checkEcho(content: Json[], body: Json): void {
  const last = [...(body.messages as Json[])].reverse().find((m) => m.role === "user");
  const blocks = typeof last?.content === "string" ? [{ type: "text", text: last.content }] : last?.content;
  const texts = ((blocks as Json[] | undefined) ?? []).filter((b) => b.type === "text");
  if (texts.length === 0) return;
  const reply = content.flatMap((b) => (b.type === "text" ? [b.text as string] : [])).join("");
  const echoed = String(texts[texts.length - 1].text).trim();
  expect(reply).toContain(echoed.slice(0, reply.length)); // a prefix when max_tokens cut it
}

function checkStructuredOutput(content: Json[], schema: Json): void {
  const texts = content.filter((b) => b.type === "text");
  expect(texts).toHaveLength(1);
  const value = JSON.parse(texts[0].text as string) as Json;
  for (const key of (schema.required as string[] | undefined) ?? []) expect(value).toHaveProperty(key);
}

function checkUsage(usage: Json, body: Json, apiVersion: string | undefined): void {
  expect(usage).toMatchObject({
    input_tokens: expect.any(Number),
    output_tokens: expect.any(Number),
    cache_creation_input_tokens: expect.any(Number),
    cache_read_input_tokens: expect.any(Number),
    service_tier: "standard",
  });
  expect(usage.input_tokens).toBeGreaterThan(0);
  expect(usage.output_tokens).toBeGreaterThan(0);
  expect(usage.output_tokens).toBeLessThanOrEqual(body.max_tokens as number);
  if (apiVersion === "2026-10-21") expect(usage.speed).toBe("standard");
}

async function checkCreate(res: Response, body: Json, apiVersion: string | undefined): Promise<void> {
  expect(res.status, await res.clone().text()).toBe(200);
  if (body.stream === true) {
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    checkMessage(foldSse(await res.text()), body, apiVersion);
  } else {
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    checkMessage((await res.json()) as Json, body, apiVersion);
  }
}

/** Versioned tools the hosted API runs itself; a mock model may refuse them. */
const usesServerTool = (body: Json) =>
  ((body.tools as Json[] | undefined) ?? []).some(
    (t) => typeof t.type === "string" && /^(web_search|web_fetch|code_execution)_/.test(t.type),
  );

async function checkServerTool(res: Response, body: Json, apiVersion: string | undefined): Promise<void> {
  if (res.status === 200) return checkCreate(res, body, apiVersion);
  const error = await expectEnvelope(res, [400, 422]);
  const tool = (body.tools as Json[]).find((t) => typeof t.type === "string") as Json;
  expect(error.message).toContain(tool.type as string);
}

async function checkCountTokens(res: Response): Promise<void> {
  expect(res.status, await res.clone().text()).toBe(200);
  const body = (await res.json()) as Json;
  expect(body).toEqual({ input_tokens: expect.any(Number) });
  expect(Number.isInteger(body.input_tokens) && (body.input_tokens as number) > 0).toBe(true);
}

/** The expected page of GET /v1/models: config order (all share the default created_at). */
async function checkModelList(res: Response, query: Record<string, string>): Promise<void> {
  expect(res.status).toBe(200);
  const all = models.map((m) => m.id);
  const limit = Number(query.limit ?? 20);
  let start = 0;
  let end = all.length;
  if (query.before_id) {
    end = all.indexOf(query.before_id);
    start = Math.max(0, end - limit);
  } else {
    if (query.after_id) start = all.indexOf(query.after_id) + 1;
    end = Math.min(all.length, start + limit);
  }
  const ids = all.slice(start, end);
  const page = (await res.json()) as { data: Json[]; models: Json[] } & Json;
  expect(page.data.map((m) => m.id)).toEqual(ids);
  for (const m of page.data) expect(m).toMatchObject({ type: "model", display_name: m.id });
  expect(page).toMatchObject({
    has_more: query.before_id ? start > 0 : end < all.length,
    first_id: ids[0] ?? null,
    last_id: ids[ids.length - 1] ?? null,
  });
  expect(page.models.map((m) => m.name)).toEqual(ids);
}

async function checkModelGet(res: Response, name: string): Promise<void> {
  const entry = models.find((m) => m.id === name || m.aliases?.includes(name));
  if (!entry) {
    await expectEnvelope(res, [404], "not_found_error");
    return;
  }
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ type: "model", id: entry.id });
}

async function check(res: Response, c: Capture): Promise<void> {
  expect(res.headers.get("request-id")).toMatch(/^req_01/);
  const route = `${c.method} ${c.path}`;
  if (c.method === "HEAD" && c.path === "/") {
    expect(res.status).toBeGreaterThanOrEqual(200);
    expect(res.status).toBeLessThan(300);
  } else if (route === "POST /v1/messages") {
    const check = usesServerTool(c.body as Json) ? checkServerTool : checkCreate;
    await check(res, c.body as Json, c.headers["anthropic-version"]);
  } else if (route === "POST /v1/messages/count_tokens") await checkCountTokens(res);
  else if (route === "GET /v1/models") await checkModelList(res, c.query);
  else if (c.method === "GET" && c.path.startsWith("/v1/models/"))
    await checkModelGet(res, decodeURIComponent(c.path.slice("/v1/models/".length)));
  else if (route === "POST /v1/messages/batches") {
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ type: "message_batch", processing_status: "in_progress" });
  } else if (route === "GET /v1/messages/batches") {
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ data: expect.any(Array), has_more: expect.any(Boolean) });
  } else if (c.path.startsWith("/v1/messages/batches/"))
    // The captured batch ids were made by another server: here they do not exist.
    await expectEnvelope(res, [404], "not_found_error");
  else throw new Error(`no expectation for captured ${route}: add one`);
}

if (captures.length === 0) {
  console.warn(`captures.test.ts: no captures in ${capturesDir}; set PARLEY_SHARED_DIR to the shared folder`);
  describe("captured client requests", () => {
    it.skip(`skipped: no captures in ${capturesDir} (set PARLEY_SHARED_DIR to the shared folder)`, () => {});
  });
} else {
  describe("captured client requests replayed against mock models", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer({ models });
    });
    afterAll(() => server.stop());

    it("includes Claude Code 2.1.332's print, tool, stream-json, interactive and discovery runs", () => {
      const runs = ["print", "tool", "stream-json", "interactive", "discovery"];
      const files = new Set(captures.map((c) => c.file));
      for (const run of runs) expect(files).toContain(`claude-code-2.1.332-${run}.jsonl`);
      // The lines Parley used to refuse: thinking.display "updates" on the first attempt.
      const updates = captures.filter(
        (c) => (c.body?.thinking as { display?: string } | undefined)?.display === "updates",
      );
      expect(updates.map((c) => `${c.file} #${c.seq}`)).toEqual([
        "claude-code-2.1.332-interactive.jsonl #1",
        "claude-code-2.1.332-interactive.jsonl #2",
        "claude-code-2.1.332-stream-json.jsonl #1",
        "claude-code-2.1.332-stream-json.jsonl #2",
      ]);
    });

    it("maps every captured model name to a mock model", () => {
      const served = models.flatMap((m) => [m.id, ...(m.aliases ?? [])]);
      expect(served).toEqual(expect.arrayContaining(modelNames(captures)));
      expect(served).toContain("claude-opus-4-8");
    });

    for (const c of captures) {
      const query = new URLSearchParams(c.query).toString();
      it(`${c.file} #${c.seq}: ${c.method} ${c.path}${query ? `?${query}` : ""}`, async () => {
        await check(await replay(server, c), c);
      });
    }
  });
}
