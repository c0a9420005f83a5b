/**
 * Inference benchmark: Parley's llama backend through its HTTP server vs the same work done
 * directly with node-llama-cpp in the same process (the ceiling), on one model, in one run.
 *
 *   npm run bench:inference [-- --model 135m|0.5b|FILE.gguf] [--weights q8_0|q4_0|f16] [--gen 64] [--prompt 2000] [--rounds 3] [--contexts N]
 *
 * `--contexts N` sets the llama model's `contexts` (default: Parley's own choice), e.g. 1 to
 * measure all slots in one context against the default of contexts decoding side by side.
 *
 * Two baselines: "direct" is node-llama-cpp's own way (one context, 4 sequences batched into each
 * step); "layout" is node-llama-cpp alone on Parley's layout (as many contexts as Parley spreads
 * its 4 slots over, `contextCount`), so "Parley / layout" is what Parley itself costs, and the
 * layout's 4-against-1 figure what this CPU gives with that layout, Parley or not.
 *
 * Parley and the baselines are loaded side by side and measured in interleaved rounds (which
 * goes first rotates each round); the tables show medians, so a noisy shared machine moves
 * every column alike.
 *
 * A second table splits each context's generation steps (bench/llama/step-timer.ts): the decode
 * on its worker thread, and the wait before its next step (sampling and main-thread work). A
 * side whose tokens/s is lower shows there whether its decodes were slower (the CPU, or another
 * thread on the decode's core) or its steps waited longer (the main thread).
 *
 * By default it writes a random-weight GGUF with SmolLM2-135M's shape and the Llama-2
 * tokenizer of the fixture model to bench/.models/ (git-ignored); speed depends on shapes
 * and quantisation, not on what the weights learned.
 */
import { fork } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  type ChatHistoryItem,
  getLlama,
  LlamaChat,
  type LlamaContext,
  type LlamaModel,
} from "node-llama-cpp";
import { buildConfig } from "../src/config/index.ts";
import { contextCount } from "../src/providers/llama/thread-policy.ts";
import { startServer } from "../src/server/index.ts";
import { type StepSums, StepTimer } from "./llama/step-timer.ts";
import type { ClientReply } from "./llama/stream-client.ts";
import { benchModelFile } from "./llama/synthetic-gguf.ts";

const { values: args } = parseArgs({
  options: {
    model: { type: "string", default: "135m" },
    weights: { type: "string", default: "q8_0" },
    gen: { type: "string", default: "64" },
    prompt: { type: "string", default: "2000" },
    rounds: { type: "string", default: "3" },
    contexts: { type: "string" },
  },
});
const GEN = Number(args.gen);
const PROMPT = Number(args.prompt);
const ROUNDS = Number(args.rounds);
const KEY = "sk-bench-inference-1";
const file = await benchModelFile(args.model as string, args.weights as string);
const cores = availableParallelism();
const genThreads = Math.max(1, Math.floor(cores / 2));

console.log(
  `model ${file}\ncores ${cores}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
console.log(
  `prompt ~${PROMPT} tokens, ${GEN} generated tokens per stream, ${ROUNDS} interleaved rounds (medians)\n`,
);

/** A user message of about `tokens` tokens, unique per call so nothing is cached. */
let uniq = 0;
const longText = (tokens: number) =>
  `Request ${++uniq} ${Date.now()}: ${"The quick brown fox jumps over the lazy dog. ".repeat(Math.ceil(tokens / 11))}`;

interface Numbers {
  promptTps: number;
  ttftCold: number;
  ttftCached: number;
  gen: Record<number, number>;
  /** The decode steps of each stream count's phase (see bench/llama/step-timer.ts). */
  steps: Record<number, StepSums>;
}

/** Every context the sides create is timed step by step. */
const stepTimer = new StepTimer();

/** Runs `n` streams through `run` as one phase of the step timer; tokens/s summed and the steps. */
async function streams(
  side: string,
  n: number,
  run: (i: number) => Promise<{ out: number }>,
): Promise<{ tps: number; steps: StepSums }> {
  const started = performance.now();
  stepTimer.setPhase(String(n));
  const runs = await Promise.all(Array.from({ length: n }, (_, i) => run(i)));
  stepTimer.setPhase(undefined);
  const tps = runs.reduce((a, r) => a + r.out, 0) / ((performance.now() - started) / 1000);
  return { tps, steps: stepTimer.take(side, String(n)) };
}

/** One side of the comparison, loaded once and measured once per round. */
interface Side {
  round(): Promise<Numbers>;
  close(): Promise<void>;
}

const STREAMS = [1, 2, 4];

// ---- Parley through HTTP ----
async function parley(): Promise<Side> {
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
        ...(args.contexts ? { contexts: Number(args.contexts) } : {}),
      },
    ],
  });
  const server = await startServer(config);
  // The client runs in a child process: see bench/llama/stream-client.ts.
  const client = fork(fileURLToPath(new URL("./llama/stream-client.ts", import.meta.url)));
  const waiting = new Map<number, (reply: ClientReply) => void>();
  let asked = 0;
  client.on("message", (reply: ClientReply) => {
    waiting.get(reply.id)?.(reply);
    waiting.delete(reply.id);
  });
  const send = (content: string, maxTokens: number) =>
    new Promise<ClientReply>((resolve, reject) => {
      const id = asked++;
      waiting.set(id, (reply) => (reply.error ? reject(new Error(reply.error)) : resolve(reply)));
      client.send({ id, url: server.url, key: KEY, content, maxTokens });
    });
  await send("warm up", 4);
  return {
    async round() {
      const prompt = longText(PROMPT);
      const cold = await send(prompt, 1);
      const cached = await send(prompt, 1);
      const gen: Record<number, number> = {};
      const steps: Record<number, StepSums> = {};
      for (const n of STREAMS) {
        const r = await streams("parley", n, (i) => send(`Story ${i} ${uniq++}`, GEN));
        gen[n] = r.tps;
        steps[n] = r.steps;
      }
      return {
        promptTps: cold.input / (cold.ttft / 1000),
        ttftCold: cold.ttft,
        ttftCached: cached.ttft,
        gen,
        steps,
      };
    },
    close: async () => {
      client.disconnect();
      await server.close();
    },
  };
}

// ---- node-llama-cpp directly: LlamaChat per reply, its defaults; the 4 sequences in one context
// (its own way), or spread over as many contexts as Parley uses (Parley's layout without Parley) ----
async function direct(name: string, threads: number, spread = 1): Promise<Side> {
  const llama = await getLlama({ build: "never", gpu: false, maxThreads: 0 });
  const model: LlamaModel = await llama.loadModel({ modelPath: file });
  const contexts: LlamaContext[] = [];
  for (let i = 0; i < spread; i++)
    contexts.push(
      await model.createContext({ contextSize: 4096, sequences: Math.ceil(4 / spread), threads }),
    );
  const sequences = Array.from({ length: 4 }, (_, i) => (contexts[i % spread] as LlamaContext).getSequence());
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
  await run(0, "warm up", 4);
  return {
    async round() {
      const prompt = longText(PROMPT);
      const tokens = model.tokenize(prompt).length;
      await sequences[1]?.clearHistory();
      const cold = await run(1, prompt, 1);
      const cached = await run(1, prompt, 1);
      const gen: Record<number, number> = {};
      const steps: Record<number, StepSums> = {};
      for (const n of STREAMS) {
        await Promise.all(sequences.map((s) => s.clearHistory()));
        const r = await streams(name, n, (i) => run(i, `Story ${i} ${uniq++}`, GEN));
        gen[n] = r.tps;
        steps[n] = r.steps;
      }
      return {
        promptTps: tokens / (cold.ttft / 1000),
        ttftCold: cold.ttft,
        ttftCached: cached.ttft,
        gen,
        steps,
      };
    },
    close: async () => {
      for (const context of contexts) await context.dispose();
      await model.dispose();
    },
  };
}

/** As many contexts as Parley spreads its 4 slots over here (src/providers/llama/thread-policy.ts). */
const layoutContexts = contextCount({
  configured: args.contexts === undefined ? undefined : Number(args.contexts),
  slots: 4,
  cores,
  threads: genThreads,
  gpuLayers: 0,
});
const sides = {
  parley: await stepTimer.creating("parley", parley),
  direct: await stepTimer.creating("direct", () => direct("direct", genThreads)),
  layout: await stepTimer.creating("layout", () => direct("layout", genThreads, layoutContexts)),
};
const results: Record<keyof typeof sides, Numbers[]> = { parley: [], direct: [], layout: [] };
for (let r = 0; r < ROUNDS; r++) {
  // Rotate which side goes first, so none always meets the same background load.
  const names = ["parley", "direct", "layout"] as const;
  for (let i = 0; i < names.length; i++) {
    const name = names[(r + i) % names.length] as keyof typeof sides;
    results[name].push(await sides[name].round());
  }
}
for (const side of Object.values(sides)) await side.close();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const med = (name: keyof typeof sides, f: (n: Numbers) => number) => median(results[name].map(f));
/** A table row: its label, the figure taken from each round, and which way is better. */
type Row = [string, (n: Numbers) => number, "higher" | "lower"];
const rows: Row[] = [
  [`prompt tokens/s (cold ~${PROMPT} tokens)`, (n) => n.promptTps, "higher"],
  ["time to first token, cold (ms)", (n) => n.ttftCold, "lower"],
  ["time to first token, prefix cached (ms)", (n) => n.ttftCached, "lower"],
  ...STREAMS.map(
    (s): Row => [
      `generation tokens/s, ${s} stream${s > 1 ? "s (sum)" : ""}`,
      (n: Numbers) => n.gen[s] ?? 0,
      "higher",
    ],
  ),
];
const fmt = (n: number) => n.toFixed(n < 10 ? 2 : 0).padStart(9);
console.log(
  `${"".padEnd(42)}${"Parley".padStart(9)} ${`direct t=${genThreads}`.padStart(11)} ${`layout x${layoutContexts}`.padStart(10)}   Parley / direct   Parley / layout`,
);
/** One row of either table: the three sides' medians and Parley's ratios, "-" where one is 0. */
function printRow([name, f, dir]: Row): void {
  const pv = med("parley", f);
  const dv = med("direct", f);
  const lv = med("layout", f);
  const ratio = (other: number) => {
    const r = dir === "higher" ? pv / other : other / pv;
    return Number.isFinite(r) ? r.toFixed(2) : "-";
  };
  console.log(
    `${name.padEnd(42)}${fmt(pv)} ${fmt(dv).padStart(11)} ${fmt(lv).padStart(10)}   ${ratio(dv).padStart(15)}   ${ratio(lv).padStart(15)}`,
  );
}
for (const row of rows) printRow(row);

// Each generation step split in two (bench/llama/step-timer.ts): the decode on its worker, and
// the wait before the context's next step (sampling, and the main thread's work for the token).
const perStep = (n: number, f: (s: StepSums) => number) => (r: Numbers) => {
  const sums = r.steps[n];
  return sums ? f(sums) : 0;
};
const stepRows: Row[] = STREAMS.flatMap((n): Row[] => {
  const label = `${n} stream${n > 1 ? "s" : ""}`;
  return [
    [`decode per step, ${label} (ms)`, perStep(n, (s) => (s.steps ? s.decodeMs / s.steps : 0)), "lower"],
    [`wait between steps, ${label} (ms)`, perStep(n, (s) => (s.waits ? s.waitMs / s.waits : 0)), "lower"],
    [
      `step and wait, ${label} (ms)`,
      perStep(n, (s) => (s.steps && s.waits ? s.decodeMs / s.steps + s.waitMs / s.waits : 0)),
      "lower",
    ],
  ];
});
if (stepTimer.installed && med("parley", stepRows[0]?.[1] ?? (() => 0)) > 0) {
  console.log(
    "\nper context and generation step (direct batches its streams into one step: past 1 stream its steps carry a token per stream)",
  );
  for (const row of stepRows) printRow(row);
} else {
  console.log("\n(node-llama-cpp's binding has changed shape: decode steps not timed)");
}
const scale = (name: keyof typeof sides) =>
  median(results[name].map((n) => (n.gen[4] ?? 0) / (n.gen[1] ?? 1)));
console.log("");
console.log(`4 streams vs 1 stream (aggregate), Parley: ${scale("parley").toFixed(2)}x   (aim >= 1.5x)`);
console.log(`4 streams vs 1 stream (aggregate), direct: ${scale("direct").toFixed(2)}x`);
console.log(
  `4 streams vs 1 stream (aggregate), layout: ${scale("layout").toFixed(2)}x   (node-llama-cpp alone on Parley's ${layoutContexts} context(s): what this CPU gives without Parley)`,
);
console.log(
  `Parley cached vs cold time to first token: ${(med("parley", (n) => n.ttftCold) / med("parley", (n) => n.ttftCached)).toFixed(1)}x faster   (aim >= 5x)`,
);
console.log(
  `Parley single stream vs direct: ${(med("parley", (n) => n.gen[1] ?? 0) / med("direct", (n) => n.gen[1] ?? 0)).toFixed(2)}   (aim >= 0.97)`,
);
console.log(
  `(Parley uses ${genThreads} thread(s) for generation and ${cores} for prompt batches, over ${args.contexts ?? "its default number of"} context(s) decoding side by side; see src/providers/llama/thread-policy.ts)`,
);
