/** A few batch requests on the embedded llama backend, on the tiny GGUF fixture (random weights). */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resultsOf, waitForEnd } from "./helpers/batches.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

const MODELS_DIR = resolve(process.env.PARLEY_MODELS_DIR ?? join(import.meta.dirname, "../../shared/models"));
const TINY = join(MODELS_DIR, "llama-2-tiny-random.gguf");
const present = existsSync(TINY);
if (!present) console.warn(`llama batch test skipped: ${TINY} not found (set PARLEY_MODELS_DIR)`);

describe.skipIf(!present)("batches on the llama backend", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      models: [{ id: "tiny", provider: "llama", path: TINY, context_window: 2048, parallel: 2 }],
      batches: { poll_interval_ms: 20 },
    });
  });
  afterAll(() => server?.stop());

  it("runs each request in an idle slot and returns Messages with batch usage", async () => {
    const client = server.client();
    const requests = ["one", "two", "three"].map((word) => ({
      custom_id: `tiny-${word}`,
      params: { model: "tiny", max_tokens: 8, messages: [{ role: "user" as const, content: `Say ${word}` }] },
    }));
    const created = await client.messages.batches.create({ requests });
    const ended = await waitForEnd(client, created.id, 120_000);
    expect(ended.request_counts).toMatchObject({ succeeded: 3, errored: 0 });
    const lines = await resultsOf(client, created.id);
    expect(lines.map((l) => l.custom_id).sort()).toEqual(["tiny-one", "tiny-three", "tiny-two"]);
    for (const { result } of lines) {
      if (result.type !== "succeeded") throw new Error(`unexpected ${result.type}`);
      expect(result.message).toMatchObject({ type: "message", role: "assistant", model: "tiny" });
      expect(result.message.usage.output_tokens).toBeGreaterThan(0);
      expect(result.message.usage.output_tokens).toBeLessThanOrEqual(8);
      expect(result.message.usage.service_tier).toBe("batch");
    }
  }, 150_000);
});
