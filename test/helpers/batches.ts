import type Anthropic from "@anthropic-ai/sdk";

type Batch = Awaited<ReturnType<Anthropic["messages"]["batches"]["retrieve"]>>;

/** Polls a batch until it has ended (bounded: fails after `timeoutMs`). */
export async function waitForEnd(client: Anthropic, id: string, timeoutMs = 30_000): Promise<Batch> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = await client.messages.batches.retrieve(id);
    if (batch.processing_status === "ended") return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id} did not end: ${JSON.stringify(batch)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every results line of a batch, read through the SDK's JSONL iterator. */
export async function resultsOf(client: Anthropic, id: string) {
  const lines = [];
  for await (const line of await client.messages.batches.results(id)) lines.push(line);
  return lines;
}

export const ask = (text: string, extra: Record<string, unknown> = {}) => ({
  model: "mock",
  max_tokens: 64,
  messages: [{ role: "user" as const, content: text }],
  ...extra,
});
