/**
 * Inference benchmark: Parley's llama backend through its HTTP server vs the same work done
 * directly with node-llama-cpp in the same process (the ceiling), on one model, in one run.
 *
 *   npm run bench:inference [-- --model 135m|0.5b|FILE.gguf] [--gen 64] [--prompt 2000]
 *
 * By default it writes a random-weight GGUF with SmolLM2-135M's shape and the Llama-2
 * tokenizer of the fixture model to bench/.models/ (git-ignored); speed depends on shapes
 * and quantisation, not on what the weights learned.
 */
import { availableParallelism, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  type ChatHistoryItem,
  getLlama,
  LlamaChat,
  type LlamaContext,
  type LlamaModel,
} from "node-llama-cpp";
import { buildConfig } from "../src/config/index.ts";
import { startServer } from "../src/server/index.ts";
import { SHAPES, writeSyntheticGguf } from "./llama/synthetic-gguf.ts";

const { values: args } = parseArgs({
  options: {
    model: { type: "string", default: "135m" },
    gen: { type: "string", default: "64" },
    prompt: { type: "string", default: "2000" },
  },
});
const GEN = Number(args.gen);
const PROMPT = Number(args.prompt);
const KEY = "sk-bench-inference-1";
const FIXTURE = resolve(
  process.env.PARLEY_MODELS_DIR ?? join(import.meta.dirname, "../../shared/models"),
  "llama-2-tiny-random.gguf",
);

const file =
  args.model in SHAPES
    ? await writeSyntheticGguf(
        join(import.meta.dirname, `.models/synthetic-${args.model}.gguf`),
        SHAPES[args.model as string] as never,
        FIXTURE,
      )
    : resolve(args.model as string);
const cores = availableParallelism();
const genThreads = Math.max(1, Math.floor(cores / 2));

console.log(
  `model ${file}\ncores ${cores}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
console.log(`prompt ~${PROMPT} tokens, ${GEN} generated tokens per stream\n`);

/** A user message of about `tokens` tokens, unique per call so nothing is cached. */
let uniq = 0;
const longText = (tokens: number) =>
  `Request ${++uniq} ${Date.now()}: ${"The quick brown fox jumps over the lazy dog. ".repeat(Math.ceil(tokens / 11))}`;

interface Numbers {
  promptTps: number;
  ttftCold: number;
  ttftCached: number;
  gen: Record<number, number>;
}

// ---- Parley through HTTP ----
async function parley(): Promise<Numbers> {
  const config = buildConfig({
    log_level: "warn",
    listen: { host: "127.0.0.1", port: 0 },
    keys: [{ key: KEY }],
    data_dir: join(import.meta.dirname, ".models/data"),
    models: [
      {
        id: "bench",
        provider: "llama",
        path: file,
        context_window: 4096,
        parallel: 4,
        max_output_tokens: GEN,
        temperature: 0.8,
      },
    ],
  });
  const server = await startServer(config);
  try {
    const send = async (content: string, maxTokens: number) => {
      const started = performance.now();
      const res = await fetch(`${server.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": KEY },
        body: JSON.stringify({
          model: "bench",
          max_tokens: maxTokens,
          stream: true,
          messages: [{ role: "user", content }],
        }),
      });
      let first = 0;
      let out = 0;
      let input = 0;
      const decoder = new TextDecoder();
      let buf = "";
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        if (!first && buf.includes("content_block_delta")) first = performance.now();
        const m = /"output_tokens":(\d+)/.exec(buf.slice(buf.lastIndexOf("message_delta")));
        if (buf.includes("message_delta") && m) out = Number(m[1]);
        const i =
          /"input_tokens":(\d+),"output_tokens":0,"cache_creation_input_tokens":(\d+),"cache_read_input_tokens":(\d+)/.exec(
            buf,
          );
        if (i && !input) input = Number(i[1]) + Number(i[2]) + Number(i[3]);
      }
      return { ttft: first - started, total: performance.now() - started, out, input };
    };
    await send("warm up", 4);
    const prompt = longText(PROMPT);
    const cold = await send(prompt, 1);
    const cached = await send(prompt, 1);
    const gen: Record<number, number> = {};
    for (const n of [1, 2, 4]) {
      const started = performance.now();
      const runs = await Promise.all(Array.from({ length: n }, (_, i) => send(`Story ${i} ${uniq++}`, GEN)));
      gen[n] = runs.reduce((a, r) => a + r.out, 0) / ((performance.now() - started) / 1000);
    }
    return { promptTps: cold.input / (cold.ttft / 1000), ttftCold: cold.ttft, ttftCached: cached.ttft, gen };
  } finally {
    await server.close();
  }
}

// ---- node-llama-cpp directly ----
async function direct(threads: number): Promise<Numbers> {
  const llama = await getLlama({ build: "never", gpu: false, maxThreads: 0 });
  const model: LlamaModel = await llama.loadModel({ modelPath: file });
  const context: LlamaContext = await model.createContext({ contextSize: 4096, sequences: 4, threads });
  const sequences = Array.from({ length: 4 }, () => context.getSequence());
  const history = (text: string): ChatHistoryItem[] => [
    { type: "user", text },
    { type: "model", response: [] },
  ];
  const run = async (seqIndex: number, text: string, maxTokens: number) => {
    const chat = new LlamaChat({ contextSequence: sequences[seqIndex] as never });
    const started = performance.now();
    let first = 0;
    let out = 0;
    await chat.generateResponse(history(text), {
      maxTokens,
      temperature: 0.8,
      repeatPenalty: false,
      onToken: (t) => {
        first ||= performance.now();
        out += t.length;
      },
    });
    chat.dispose({ disposeSequence: false });
    return { ttft: first - started, out };
  };
  try {
    await run(0, "warm up", 4);
    const prompt = longText(PROMPT);
    const tokens = model.tokenize(prompt).length;
    await sequences[1]?.clearHistory();
    const cold = await run(1, prompt, 1);
    const cached = await run(1, prompt, 1);
    const gen: Record<number, number> = {};
    for (const n of [1, 2, 4]) {
      await Promise.all(sequences.map((s) => s.clearHistory()));
      const started = performance.now();
      const runs = await Promise.all(
        Array.from({ length: n }, (_, i) => run(i, `Story ${i} ${uniq++}`, GEN)),
      );
      gen[n] = runs.reduce((a, r) => a + r.out, 0) / ((performance.now() - started) / 1000);
    }
    return { promptTps: tokens / (cold.ttft / 1000), ttftCold: cold.ttft, ttftCached: cached.ttft, gen };
  } finally {
    await context.dispose();
    await model.dispose();
  }
}

const p = await parley();
const d1 = await direct(genThreads);
const d2 = await direct(cores);
const best = (f: (n: Numbers) => number, higher = true) =>
  higher ? Math.max(f(d1), f(d2)) : Math.min(f(d1), f(d2));

const rows: [string, number, number, number, string][] = [
  ["prompt tokens/s (cold ~2k prompt)", p.promptTps, d1.promptTps, d2.promptTps, "higher"],
  ["time to first token, cold (ms)", p.ttftCold, d1.ttftCold, d2.ttftCold, "lower"],
  ["time to first token, prefix cached (ms)", p.ttftCached, d1.ttftCached, d2.ttftCached, "lower"],
  ["generation tokens/s, 1 stream", p.gen[1] ?? 0, d1.gen[1] ?? 0, d2.gen[1] ?? 0, "higher"],
  ["generation tokens/s, 2 streams (sum)", p.gen[2] ?? 0, d1.gen[2] ?? 0, d2.gen[2] ?? 0, "higher"],
  ["generation tokens/s, 4 streams (sum)", p.gen[4] ?? 0, d1.gen[4] ?? 0, d2.gen[4] ?? 0, "higher"],
];
const fmt = (n: number) => n.toFixed(n < 10 ? 2 : 0).padStart(9);
console.log(
  `${"".padEnd(42)}${"Parley".padStart(9)} ${`direct t=${genThreads}`.padStart(11)} ${`direct t=${cores}`.padStart(11)}   Parley / best direct`,
);
for (const [name, pv, a, b, dir] of rows) {
  const ceiling = dir === "higher" ? Math.max(a, b) : Math.min(a, b);
  const ratio = dir === "higher" ? pv / ceiling : ceiling / pv;
  console.log(
    `${name.padEnd(42)}${fmt(pv)} ${fmt(a).padStart(11)} ${fmt(b).padStart(11)}   ${ratio.toFixed(2)}`,
  );
}
console.log("");
console.log(
  `Parley 4 streams vs 1 stream (aggregate): ${((p.gen[4] ?? 0) / (p.gen[1] ?? 1)).toFixed(2)}x   (aim >= 1.5x)`,
);
console.log(
  `Parley cached vs cold time to first token: ${(p.ttftCold / p.ttftCached).toFixed(1)}x faster   (aim >= 5x)`,
);
console.log(
  `Parley single stream vs best direct: ${((p.gen[1] ?? 0) / best((n) => n.gen[1] ?? 0)).toFixed(2)}   (aim >= 0.95)`,
);
console.log(
  `(Parley uses ${genThreads} thread(s) for generation and ${cores} for prompt batches; see src/providers/llama/thread-policy.ts)`,
);
