import type { ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelConfig } from "../src/config/index.ts";
import { toAnthropicToolId } from "../src/providers/openai/index.ts";
import {
  type FakeUpstream,
  json,
  type RecordedRequest,
  replyOpenAI,
  startFakeUpstream,
} from "./fakes/http-upstream.ts";
import { foldChunks, llamaServer, vllm } from "./fakes/openai-chunks.ts";
import { parseSse, startTestServer, type TestServer } from "./helpers/server.ts";

/** Upstream failures that used to come back as success, and an upstream that drops connections. */

const fakes: Record<string, FakeUpstream> = {};
let server: TestServer;

const quick = { connect_ms: 500, first_byte_ms: 2000, idle_ms: 2000 };
const openai = (id: string, upstreams: string[]): ModelConfig =>
  ({
    id,
    provider: "openai",
    base_url: upstreams.map((u) => `${fakes[u].origin}/v1`),
    upstream_model: "m",
    timeouts: quick,
    health_check_ms: 0,
  }) as ModelConfig;

const ask = { max_tokens: 100, messages: [{ role: "user" as const, content: "hi" }] };
const weather = {
  name: "get_weather",
  input_schema: {
    type: "object" as const,
    properties: { city: { type: "string" } },
    required: ["city"],
  },
};
const chat = (chunks: unknown[]) => (req: RecordedRequest, res: ServerResponse) =>
  replyOpenAI(req, res, chunks, foldChunks);

/** A deterministic stream of numbers in [0, 1) (mulberry32), so the reset pattern is the same every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

beforeAll(async () => {
  for (const name of ["odd", "tools", "stops", "resetA", "resetB"]) fakes[name] = await startFakeUpstream();
  server = await startTestServer({
    models: [
      openai("oai-odd", ["odd"]),
      openai("oai-tools", ["tools"]),
      openai("oai-stops", ["stops"]),
      openai("oai-resets", ["resetA", "resetB"]),
    ],
  });
});
afterAll(async () => {
  await server?.stop();
  await Promise.all(Object.values(fakes).map((f) => f.close()));
});

describe("a malformed 200 from an OpenAI upstream is an error, never a success", () => {
  it.each([
    ["an error body", { error: { message: "CUDA out of memory", type: "server_error" } }],
    ["no choices", { id: "chatcmpl-1", object: "chat.completion", usage: { prompt_tokens: 3 } }],
    ["empty choices", { id: "chatcmpl-1", choices: [] }],
  ])("%s → 500 api_error", async (_name, body) => {
    fakes.odd.handle((_req, res) => json(res, 200, body));
    const res = await server.post("/v1/messages", { model: "oai-odd", ...ask });
    expect(res.status).toBe(500);
    const reply = (await res.json()) as { type: string; error: { type: string }; request_id: string };
    expect(reply.type).toBe("error");
    expect(reply.error.type).toBe("api_error");
    expect(reply.request_id).toMatch(/^req_/);
  });

  it("a stream of chunks without any choice ends in an error event, not an empty end_turn", async () => {
    fakes.odd.handle(async (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write('data: {"id":"x","object":"chat.completion.chunk"}\n\n');
      res.end("data: [DONE]\n\n");
    });
    const res = await server.post("/v1/messages", { model: "oai-odd", ...ask, stream: true });
    const events = parseSse(await res.text());
    expect(events.at(-1)).toMatchObject({ event: "error", data: { error: { type: "api_error" } } });
    expect(events.some((e) => e.event === "message_delta")).toBe(false);
  });
});

describe("a broken chunk mid-stream", () => {
  it("the text the upstream sent before it, in the same read, reaches the client before the error event", async () => {
    const chunk = (content: string) =>
      `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
    fakes.odd.handle(async (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      // One write: the good chunks and the broken one arrive in the same read.
      res.end(`${chunk("Hello")}${chunk(", world")}data: {"id":"c","choices":[{"index":0,\n\n`);
    });
    const res = await server.post("/v1/messages", { model: "oai-odd", ...ask, stream: true });
    const events = parseSse(await res.text());
    const text = events
      .filter((e) => e.event === "content_block_delta")
      .map((e) => (e.data as { delta: { text: string } }).delta.text)
      .join("");
    expect(text).toBe("Hello, world");
    expect(events.at(-1)).toMatchObject({ event: "error", data: { error: { type: "api_error" } } });
  });
});

describe("tool calls from an OpenAI upstream", () => {
  it("broken JSON is repaired; invalid input becomes a text block with the raw arguments", async () => {
    fakes.tools.handle(
      chat(
        vllm.toolCalls([
          { id: "call_ok", name: "get_weather", fragments: ["{'city': 'Paris',"] },
          { id: "call_bad", name: "get_weather", fragments: ['{"town": 1}'] },
        ]),
      ),
    );
    for (const stream of [false, true]) {
      const msg = stream
        ? await server
            .client()
            .messages.stream({ model: "oai-tools", ...ask, tools: [weather] })
            .finalMessage()
        : await server.client().messages.create({ model: "oai-tools", ...ask, tools: [weather] });
      expect(msg.content[0]).toEqual({
        type: "tool_use",
        id: toAnthropicToolId("call_ok"),
        name: "get_weather",
        input: { city: "Paris" },
        ...(msg.content[0].type === "tool_use" && "caller" in msg.content[0]
          ? { caller: expect.anything() }
          : {}),
      });
      expect(msg.content[1]).toMatchObject({ type: "text" });
      expect((msg.content[1] as { text: string }).text).toContain('Raw arguments: {"town": 1}');
      expect(msg.stop_reason).toBe("tool_use");
    }
  });

  it("only invalid calls: stop_reason end_turn, no tool_use block", async () => {
    fakes.tools.handle(chat(vllm.toolCalls([{ id: "c", name: "get_weather", fragments: ["[1,2]"] }])));
    const msg = await server.client().messages.create({ model: "oai-tools", ...ask, tools: [weather] });
    expect(msg.stop_reason).toBe("end_turn");
    expect(msg.content.map((b) => b.type)).toEqual(["text"]);
  });

  it("tool-use ids reach the client as toolu_ and go back upstream as the upstream's own", async () => {
    fakes.tools.handle(
      chat(vllm.toolCalls([{ id: "call_7Qx", name: "get_weather", fragments: ['{"city":"Oslo"}'] }])),
    );
    const first = await server.client().messages.create({ model: "oai-tools", ...ask, tools: [weather] });
    const use = first.content[0];
    if (use.type !== "tool_use") throw new Error("expected a tool_use block");
    expect(use.id).toMatch(/^toolu_/);
    fakes.tools.handle(chat(vllm.text(["Sunny."])));
    await server.client().messages.create({
      model: "oai-tools",
      max_tokens: 100,
      tools: [weather],
      messages: [
        { role: "user", content: "Weather in Oslo?" },
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "sunny" }] },
      ],
    });
    const sent = fakes.tools.requests.at(-1)?.body as {
      messages: { role: string; tool_calls?: { id: string }[]; tool_call_id?: string }[];
    };
    expect(sent.messages.find((m) => m.role === "assistant")?.tool_calls?.[0].id).toBe("call_7Qx");
    expect(sent.messages.find((m) => m.role === "tool")?.tool_call_id).toBe("call_7Qx");
  });
});

describe("stop sequences the upstream applied", () => {
  /** Like llama-server: applies `stop`, strips it, and says only finish_reason "stop". */
  const appliesStops = (req: RecordedRequest, res: ServerResponse) => {
    const body = req.body as { stop?: string[]; stream?: boolean };
    const full = "alpha STOP beta";
    const stop = body.stop?.find((s) => full.includes(s));
    const text = stop ? full.slice(0, full.indexOf(stop)) : full;
    const chunks = [
      llamaServer.chunk({ role: "assistant", content: null }),
      llamaServer.chunk({ content: text }),
      llamaServer.chunk({}, "stop", { prompt: 5, completion: 2 }),
    ];
    return replyOpenAI(req, res, chunks, foldChunks);
  };

  it("an upstream that does not say which sequence matched: Parley matches it itself", async () => {
    fakes.stops.handle(appliesStops);
    for (const stream of [false, true]) {
      const params = { model: "oai-stops", ...ask, stop_sequences: ["STOP"] };
      const msg = stream
        ? await server.client().messages.stream(params).finalMessage()
        : await server.client().messages.create(params);
      expect([msg.stop_reason, msg.stop_sequence]).toEqual(["stop_sequence", "STOP"]);
      expect(msg.content).toEqual([{ type: "text", text: "alpha ", citations: null }]);
    }
  });

  it("vLLM names the matched string in stop_reason: stop sequences go upstream from then on", async () => {
    fakes.stops.handle((req, res) => {
      const stop = (req.body as { stop?: string[] }).stop;
      const message = { role: "assistant", content: stop ? "alpha " : "alpha STOP beta" };
      const choice = { index: 0, message, finish_reason: "stop", stop_reason: stop ? "STOP" : null };
      json(res, 200, {
        id: "chatcmpl-2",
        choices: [choice],
        usage: { prompt_tokens: 5, completion_tokens: 2 },
      });
    });
    for (let i = 0; i < 2; i++) {
      const msg = await server
        .client()
        .messages.create({ model: "oai-stops", ...ask, stop_sequences: ["STOP"] });
      expect([msg.stop_reason, msg.stop_sequence]).toEqual(["stop_sequence", "STOP"]);
    }
    expect((fakes.stops.requests.at(-1)?.body as { stop?: string[] } | undefined)?.stop).toEqual(["STOP"]);
  });
});

describe("an upstream that resets 30 % of its connections, behind two base URLs", () => {
  it("at least 95 of 100 requests succeed: resets are retried, the breaker keeps both in", async () => {
    const random = seeded(10);
    let resets = 0;
    const flaky = (req: RecordedRequest, res: ServerResponse) => {
      if (random() < 0.3) {
        resets++;
        res.socket?.destroy();
        return;
      }
      return chat(vllm.text(["ok"]))(req, res);
    };
    fakes.resetA.handle(flaky);
    fakes.resetB.handle(flaky);
    const statuses: number[] = [];
    const worker = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const res = await server.post("/v1/messages", { model: "oai-resets", ...ask, stream: i % 2 === 0 });
        await res.text();
        statuses.push(res.status);
      }
    };
    await Promise.all([25, 25, 25, 25].map(worker));
    const ok = statuses.filter((s) => s === 200).length;
    expect(statuses).toHaveLength(100);
    expect(resets).toBeGreaterThan(20);
    expect(ok).toBeGreaterThanOrEqual(95);
  }, 30_000);
});
