/** The Vercel AI SDK's batch API (experimental_startBatch …) against Parley, unmodified. */
import { createAnthropic } from "@ai-sdk/anthropic";
import {
  experimental_getBatchResults as getBatchResults,
  experimental_getBatchStatus as getBatchStatus,
  experimental_listBatches as listBatches,
  experimental_startBatch as startBatch,
} from "ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ batches: { poll_interval_ms: 20 } });
});
afterAll(() => server.stop());

describe("AI SDK batch API", () => {
  it("starts a batch, polls it to completion and reads text results", async () => {
    const provider = createAnthropic({ apiKey: TEST_KEY, baseURL: `${server.url}/v1` });
    const batch = await startBatch({
      provider,
      requests: [
        { id: "ai-a", type: "text", model: "mock", prompt: "hello from the AI SDK", maxOutputTokens: 32 },
        { id: "ai-b", type: "text", model: "mock", prompt: "[[error:400]] refused", maxOutputTokens: 32 },
      ],
    });
    expect(batch.id).toMatch(/^msgbatch_/);
    let status = await getBatchStatus({ provider, batch });
    for (let i = 0; i < 400 && status.status === "pending"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = await getBatchStatus({ provider, batch });
    }
    expect(status.status).toBe("completed");
    const results: Record<string, { status: string; text?: string }> = {};
    for await (const r of getBatchResults({ provider, batch })) {
      results[r.id] = {
        status: r.status,
        ...(r.status === "succeeded" && r.type === "text" ? { text: r.text } : {}),
      };
    }
    expect(results).toEqual({
      "ai-a": { status: "succeeded", text: "hello from the AI SDK" },
      "ai-b": { status: "failed" },
    });
    const listed = await listBatches({ provider });
    expect(listed.batches.map((b) => b.id)).toContain(batch.id);
  });
});
