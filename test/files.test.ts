import type Anthropic from "@anthropic-ai/sdk";
import { toFile } from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../src/batches/index.ts";
import {
  type FakeUpstream,
  type RecordedRequest,
  replyOpenAI,
  startFakeUpstream,
} from "./fakes/http-upstream.ts";
import { foldChunks, vllm } from "./fakes/openai-chunks.ts";
import { ask, resultsOf, waitForEnd } from "./helpers/batches.ts";
import { startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

const OTHER_KEY = "sk-test-files-other";
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=",
  "base64",
);

let server: TestServer;
let client: Anthropic;
let upstream: FakeUpstream;
const clock = new ManualClock(Date.parse("2026-05-01T00:00:00Z"));

type ChatBody = { messages: { role: string; content: string | { type: string; text?: string }[] }[] };

/** The fake vLLM answers with the text parts of the last message it got, so tests see what reached it. */
function echoUpstream(req: RecordedRequest, res: import("node:http").ServerResponse) {
  const last = (req.body as ChatBody).messages.at(-1);
  const content = last?.content ?? "";
  const text = typeof content === "string" ? content : content.map((p) => p.text ?? `[${p.type}]`).join("|");
  return replyOpenAI(req, res, vllm.text([text]), foldChunks);
}

beforeAll(async () => {
  upstream = await startFakeUpstream(echoUpstream);
  server = await startTestServer(
    {
      keys: [
        { key: TEST_KEY, name: "test" },
        { key: OTHER_KEY, name: "other", workspace: "team-b" },
      ],
      models: [
        { id: "mock", provider: "mock" },
        {
          id: "vllm",
          provider: "openai",
          base_url: `${upstream.origin}/v1`,
          upstream_model: "qwen",
          health_check_ms: 0,
          tokenize: "estimate",
        },
      ],
      batches: { poll_interval_ms: 20 },
    },
    { clock },
  );
  client = server.client();
});

afterAll(async () => {
  await server.stop();
  await upstream.close();
});

const upload = async (text: string | Buffer, name: string, type: string, c: Anthropic = client) =>
  c.files.upload({ file: await toFile(Buffer.from(text), name, { type }) });

describe("Files API", () => {
  it("uploads, and a message's document source resolves to the file before the backend sees it", async () => {
    const file = await upload("The secret word is kumquat.", "notes.txt", "text/plain");
    expect(file).toEqual({
      id: expect.stringMatching(/^file_01[A-Za-z0-9]{22}$/),
      type: "file",
      filename: "notes.txt",
      mime_type: "text/plain",
      size_bytes: 27,
      created_at: new Date(clock.now()).toISOString(),
      downloadable: false,
      expires_at: null,
    });
    const reply = await client.messages.create({
      model: "vllm",
      max_tokens: 50,
      messages: [
        {
          role: "user",
          content: [
            { type: "document", source: { type: "file", file_id: file.id } },
            { type: "text", text: "What is the word?" },
          ],
        },
      ],
    });
    // The upstream got the file's text (titled with its name) before the question.
    expect(reply.content[0]).toMatchObject({
      type: "text",
      text: "notes.txt\n\nThe secret word is kumquat.\n\nWhat is the word?",
    });
  });

  it("an image file becomes inline base64 for an OpenAI-compatible upstream", async () => {
    const image = await upload(PNG, "dot.png", "image/png");
    await client.messages.create({
      model: "vllm",
      max_tokens: 20,
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "file", file_id: image.id } },
            { type: "text", text: "describe" },
          ],
        },
      ],
    });
    const sent = upstream.requests.at(-1)?.body as {
      messages: { content: { type: string; image_url?: { url: string } }[] }[];
    };
    const part = sent.messages.at(-1)?.content.find((p) => p.type === "image_url");
    expect(part?.image_url?.url).toBe(`data:image/png;base64,${PNG.toString("base64")}`);
  });

  it("a file of another workspace, or none, is a 404 for the message and the metadata", async () => {
    const mine = await upload("private", "p.txt", "text/plain");
    const other = server.client({ apiKey: OTHER_KEY });
    await expect(other.files.retrieveMetadata(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(
      other.messages.create({
        model: "mock",
        max_tokens: 20,
        messages: [
          {
            role: "user",
            content: [
              { type: "document", source: { type: "file", file_id: mine.id } },
              { type: "text", text: "x" },
            ],
          },
        ],
      }),
    ).rejects.toMatchObject({
      status: 404,
      error: { error: { type: "not_found_error", message: `File not found: ${mine.id}` } },
    });
    expect((await other.files.list()).data).toEqual([]);
  });

  it("content downloads are refused as on the hosted API (file_not_downloadable)", async () => {
    const file = await upload("data", "d.txt", "text/plain");
    const err = await client.files.download(file.id).catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.errorCode).toBe("file_not_downloadable");
  });

  it("lists both ways: GA limit/page → next_page, and classic after_id → first_id/last_id/has_more", async () => {
    const other = server.client({ apiKey: OTHER_KEY });
    const made = [];
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      made.push(await upload(`f${i}`, `f${i}.txt`, "text/plain", other));
    }
    const first = await other.files.list({ limit: 2 });
    expect(first.data.map((f) => f.id)).toEqual([made[2].id, made[1].id]);
    expect(first.next_page).toBe(made[1].id);
    const all = [];
    for await (const f of other.files.list({ limit: 2 })) all.push(f.id);
    expect(all).toEqual([made[2].id, made[1].id, made[0].id]);
    const beta = [];
    for await (const f of other.beta.files.list({ limit: 2 })) beta.push(f.id);
    expect(beta).toEqual(all);
    // Older SDKs page the beta list with after_id / before_id and read first_id, last_id, has_more.
    const classic = async (query: string) => {
      const res = await fetch(`${server.url}/v1/files?beta=true&${query}`, {
        headers: { "x-api-key": OTHER_KEY },
      });
      return (await res.json()) as {
        data: { id: string }[];
        has_more: boolean;
        first_id: string;
        last_id: string;
      };
    };
    const page1 = await classic("limit=2");
    expect(page1).toMatchObject({ has_more: true, first_id: made[2].id, last_id: made[1].id });
    const page2 = await classic(`limit=2&after_id=${made[1].id}`);
    expect(page2.data.map((f) => f.id)).toEqual([made[0].id]);
    expect(page2.has_more).toBe(false);
    const back = await classic(`limit=2&before_id=${made[0].id}`);
    expect(back.data.map((f) => f.id)).toEqual([made[2].id, made[1].id]);
    const raw = await fetch(`${server.url}/v1/files?beta=true&limit=1&ids[]=${made[0].id}`, {
      headers: { "x-api-key": OTHER_KEY },
    });
    expect(Object.keys((await raw.json()) as object).sort()).toEqual([
      "data",
      "first_id",
      "has_more",
      "last_id",
      "next_page",
    ]);
  });

  it("deletes: metadata and messages then get 404; expiring uploads vanish when their time is up", async () => {
    const file = await upload("bye", "bye.txt", "text/plain");
    expect(await client.files.delete(file.id)).toEqual({ id: file.id, type: "file_deleted" });
    await expect(client.files.retrieveMetadata(file.id)).rejects.toMatchObject({ status: 404 });
    await expect(
      client.messages.create({
        model: "vllm",
        max_tokens: 20,
        messages: [
          {
            role: "user",
            content: [
              { type: "document", source: { type: "file", file_id: file.id } },
              { type: "text", text: "x" },
            ],
          },
        ],
      }),
    ).rejects.toMatchObject({ status: 404 });
    const brief = await client.files.upload({
      file: await toFile(Buffer.from("soon gone"), "brief.txt", { type: "text/plain" }),
      expires_in_seconds: 60,
    });
    expect(brief.expires_at).toBe(new Date(clock.now() + 60_000).toISOString());
    clock.advance(61_000);
    await expect(client.files.retrieveMetadata(brief.id)).rejects.toMatchObject({ status: 404 });
  });

  it("refuses a request without a file part", async () => {
    const form = new FormData();
    form.set("expires_in_seconds", "10");
    const res = await fetch(`${server.url}/v1/files`, {
      method: "POST",
      headers: { "x-api-key": TEST_KEY },
      body: form,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe("file: Field required");
  });
});

describe("batches through a fake OpenAI-compatible upstream", () => {
  it("runs every request on the upstream once, with file references resolved", async () => {
    const file = await upload("Batch context.", "ctx.txt", "text/plain");
    const before = upstream.requests.length;
    const requests = Array.from({ length: 25 }, (_, i) => ({
      custom_id: `o${i}`,
      params: {
        ...ask(`question ${i}`),
        model: "vllm",
        messages: [
          {
            role: "user" as const,
            content: [
              { type: "document" as const, source: { type: "file" as const, file_id: file.id } },
              { type: "text" as const, text: `question ${i}` },
            ],
          },
        ],
      },
    }));
    const created = await client.messages.batches.create({ requests });
    const ended = await waitForEnd(client, created.id);
    expect(ended.request_counts.succeeded).toBe(25);
    expect(upstream.requests.length - before).toBe(25);
    const lines = await resultsOf(client, created.id);
    const o3 = lines.find((l) => l.custom_id === "o3")?.result;
    expect(o3).toMatchObject({
      type: "succeeded",
      message: {
        content: [{ type: "text", text: "ctx.txt\n\nBatch context.\n\nquestion 3" }],
        usage: { service_tier: "batch" },
      },
    });
  });
});
