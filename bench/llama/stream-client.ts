/**
 * bench:inference's HTTP client, in a child process of its own (as bench:http's and
 * bench:gateway's load generators are): reading each token's SSE frame costs CPU that would
 * otherwise land on Parley's event loop, which also schedules the model's decode steps, and the
 * node-llama-cpp baselines have no client at all. Receives `{ id, url, key, content, maxTokens }`,
 * streams that message request and answers `{ id, ttft, out, input }` (or `{ id, error }`).
 */
import process from "node:process";

interface Ask {
  id: number;
  url: string;
  key: string;
  content: string;
  maxTokens: number;
}

/** The answer for one request: time to first delta (ms), output and prompt tokens, or the error. */
export interface ClientReply {
  id: number;
  ttft: number;
  out: number;
  input: number;
  error?: string;
}

async function send(ask: Ask): Promise<Omit<ClientReply, "id">> {
  const started = performance.now();
  const res = await fetch(`${ask.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": ask.key },
    body: JSON.stringify({
      model: "bench",
      max_tokens: ask.maxTokens,
      stream: true,
      messages: [{ role: "user", content: ask.content }],
    }),
  });
  let first = 0;
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    if (!first && buf.includes("content_block_delta")) first = performance.now();
  }
  const m = /"output_tokens":(\d+)/.exec(buf.slice(buf.lastIndexOf("message_delta")));
  const i =
    /"input_tokens":(\d+),"output_tokens":0,"cache_creation_input_tokens":(\d+),"cache_read_input_tokens":(\d+)/.exec(
      buf,
    );
  return {
    ttft: first - started,
    out: m ? Number(m[1]) : 0,
    input: i ? Number(i[1]) + Number(i[2]) + Number(i[3]) : 0,
  };
}

process.on("message", (ask: Ask) => {
  send(ask).then(
    (result) => process.send?.({ id: ask.id, ...result }),
    (err: unknown) => process.send?.({ id: ask.id, error: String(err) }),
  );
});
process.on("disconnect", () => process.exit(0));
