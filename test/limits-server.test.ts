import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

const LIMITED = "sk-limits-server-0001";
const TINY = "sk-limits-server-0002";
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    keys: [
      { key: TEST_KEY, name: "test" },
      { key: LIMITED, name: "limited", rpm: 4, input_tpm: 5000, output_tpm: 80, tpm: 6000 },
      { key: TINY, name: "tiny", output_tpm: 2 },
    ],
  });
});
afterAll(() => server.stop());

const hello = {
  model: "mock",
  max_tokens: 30,
  messages: [{ role: "user" as const, content: "count to ten" }],
};
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

describe("rate-limit headers through the server", () => {
  it("match the configured limits and decrease with every request and its tokens", async () => {
    const client = server.client({ apiKey: LIMITED });
    let input = 0;
    let output = 0;
    for (let i = 0; i < 3; i++) {
      const { data, response } = await client.messages.create(hello).withResponse();
      const h = (name: string) => response.headers.get(`anthropic-ratelimit-${name}`);
      expect([h("requests-limit"), h("requests-remaining")]).toEqual(["4", String(3 - i)]);
      expect([h("input-tokens-limit"), h("input-tokens-remaining")]).toEqual(["5000", String(5000 - input)]);
      expect([h("output-tokens-limit"), h("output-tokens-remaining")]).toEqual(["80", String(80 - output)]);
      // tokens-* is the tightest token limit in effect: here the 80 output tokens per minute.
      expect([h("tokens-limit"), h("tokens-remaining")]).toEqual(["80", String(80 - output)]);
      for (const family of ["requests", "input-tokens", "output-tokens", "tokens"]) {
        expect(h(`${family}-reset`)).toMatch(RFC3339);
      }
      input += data.usage.input_tokens;
      output += data.usage.output_tokens;
    }
    expect(output).toBeGreaterThan(0);
  });

  it("429s once a token window is spent, with retry-after and the headers as they stand", async () => {
    const client = server.client({ apiKey: TINY });
    const first = await client.messages.create(hello);
    expect(first.usage.output_tokens).toBeGreaterThan(1);
    const err = await client.messages.create(hello).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const e = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(e.message).toMatch(/API key's rate limit of 2 output tokens per minute/);
    const retry = Number(e.headers?.get("retry-after"));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(60);
    expect(e.headers?.get("x-should-retry")).toBe("true");
    expect(e.headers?.get("anthropic-ratelimit-output-tokens-limit")).toBe("2");
    expect(e.headers?.get("anthropic-ratelimit-output-tokens-remaining")).toBe("0");
  });

  it("sends no rate-limit headers for a key without limits", async () => {
    const { response } = await server.client().messages.create(hello).withResponse();
    expect([...response.headers.keys()].filter((k) => k.startsWith("anthropic-ratelimit-"))).toEqual([]);
  });
});
