import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.ts";

/** A loopback port nothing listens on: connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

let server: TestServer;

beforeAll(async () => {
  const port = await closedPort();
  server = await startTestServer({
    models: [
      {
        id: "gateway",
        provider: "openai",
        base_url: `http://127.0.0.1:${port}/v1`,
        upstream_model: "m",
        health_check_ms: 0,
        fallbacks: ["backup"],
      },
      { id: "backup", provider: "mock" },
      { id: "alone", provider: "openai", base_url: `http://127.0.0.1:${port}/v1`, health_check_ms: 0 },
    ],
  });
});
afterAll(() => server.stop());

describe("model fallbacks through the server", () => {
  it("answers from the fallback model when every upstream of the model is down", async () => {
    const msg = await server.client().messages.create({
      model: "gateway",
      max_tokens: 20,
      messages: [{ role: "user", content: "still here" }],
    });
    expect(msg.content).toEqual([{ type: "text", text: "still here", citations: null }]);
    const stream = server.client().messages.stream({
      model: "gateway",
      max_tokens: 20,
      messages: [{ role: "user", content: "streamed too" }],
    });
    expect((await stream.finalMessage()).content).toMatchObject([{ type: "text", text: "streamed too" }]);
  });

  it("without fallbacks a dead upstream is an Anthropic-shaped 5xx, not a hang", async () => {
    const res = await server.post("/v1/messages", {
      model: "alone",
      max_tokens: 5,
      messages: [{ role: "user", content: "x" }],
    });
    expect(res.status).toBeGreaterThanOrEqual(500);
    const body = (await res.json()) as { type: string; error: { type: string } };
    expect(body.type).toBe("error");
    expect(["api_error", "overloaded_error"]).toContain(body.error.type);
  });
});
