/**
 * What batched decoding can gain on this machine, measured through node-llama-cpp alone (no
 * Parley code): the cost of one decode step holding 1, 2 or 4 tokens (one per sequence), at
 * 1 and at all cores, and whether LlamaChat replies on 4 sequences of one context really land
 * in one `llama_decode` per step; and the same replies spread over one context per core, each on
 * one thread, decoding side by side (what Parley's `contexts` does).
 *
 *   node bench/llama/batched-decode.ts [--model 135m|0.5b|FILE.gguf] [--weights q8_0|q4_0|f16] [--steps 48] [--rounds 3]
 *
 * It is the same measurement as llama.cpp's `llama-batched-bench` (S_TG t/s for npl 1,2,4),
 * which needs a llama.cpp build; see docs/inference-speed.md for both.
 */
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import {
  getLlama,
  LlamaChat,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { benchModelFile } from "./synthetic-gguf.ts";

const { values: args } = parseArgs({
  options: {
    model: { type: "string", default: "135m" },
    weights: { type: "string", default: "q8_0" },
    steps: { type: "string", default: "48" },
    rounds: { type: "string", default: "3" },
    gen: { type: "string", default: "48" },
  },
});
const STEPS = Number(args.steps);
const ROUNDS = Number(args.rounds);
const GEN = Number(args.gen);
const file = await benchModelFile(args.model as string, args.weights as string);
const cores = availableParallelism();
const threadCounts = [...new Set([1, cores])];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

console.log(
  `model ${file}\ncores ${cores}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
console.log(`${ROUNDS} interleaved rounds, medians shown\n`);

const llama = await getLlama({ build: "never", gpu: false, maxThreads: 0 });
const model: LlamaModel = await llama.loadModel({ modelPath: file });

/** Counts the tokens in each native decode call of a context (node-llama-cpp internals). */
function watchBatches(context: LlamaContext): number[] {
  const sizes: number[] = [];
  const native = (context as unknown as { _ctx: { initBatch(n: number): void } })._ctx;
  const initBatch = native.initBatch.bind(native);
  Object.defineProperty(native, "initBatch", {
    value: (n: number) => {
      sizes.push(n);
      initBatch(n);
    },
  });
  return sizes;
}

// ---- 1. Raw decode steps: n sequences, one token each, one llama_decode per step ----
async function decodeSteps(threads: number, n: number): Promise<number> {
  const context = await model.createContext({ contextSize: 1024, sequences: 4, threads });
  try {
    const sizes = watchBatches(context);
    const seqs = Array.from({ length: n }, () => context.getSequence());
    const start = model.tokenize("Once upon a time there was a little");
    await Promise.all(seqs.map((s) => s.evaluateWithoutGeneratingNewTokens(start)));
    sizes.length = 0;
    const token = (model.tokenize(" dog")[0] ?? 1) as Token;
    const started = performance.now();
    for (let i = 0; i < STEPS; i++) {
      // Queued in one tick: node-llama-cpp dispatches them as one batch.
      await Promise.all(seqs.map((s) => s.evaluateWithoutGeneratingNewTokens([token])));
    }
    const secs = (performance.now() - started) / 1000;
    if (sizes.some((s) => s !== n))
      console.warn(`  (threads ${threads}, n ${n}: batches ${sizes.join(",")})`);
    return (STEPS * n) / secs;
  } finally {
    await context.dispose();
  }
}

/** One LlamaChat reply of GEN tokens on a sequence; returns the tokens it generated. */
async function reply(seq: LlamaContextSequence, i: number): Promise<number> {
  const chat = new LlamaChat({ contextSequence: seq });
  let out = 0;
  await chat.generateResponse(
    [
      { type: "user", text: `Tell story number ${i}.` },
      { type: "model", response: [] },
    ],
    {
      maxTokens: GEN,
      temperature: 0.8,
      repeatPenalty: false,
      onToken: (t) => {
        out += t.length;
      },
    },
  );
  chat.dispose({ disposeSequence: false });
  return out;
}

// ---- 2. LlamaChat replies on n sequences: tokens/s and tokens per native decode ----
type Dispatch = "nextCycle" | "gate";
async function chatReplies(threads: number, n: number, dispatch: Dispatch) {
  let active = 0;
  let ctxRef: LlamaContext | undefined;
  const gate = (fire: () => void) => {
    // Waits (a few event-loop turns at most) until every generating sequence has queued its token.
    const queued = () =>
      (ctxRef as unknown as { _queuedDecodeSequenceIds: Set<number> })._queuedDecodeSequenceIds.size;
    let turns = 0;
    const check = () => (queued() >= active || ++turns > 8 ? fire() : setImmediate(check));
    setImmediate(check);
  };
  const context = await model.createContext({
    contextSize: 1024,
    sequences: 4,
    threads,
    batching: dispatch === "gate" ? { dispatchSchedule: gate } : undefined,
  });
  ctxRef = context;
  try {
    const sizes = watchBatches(context);
    const seqs = Array.from({ length: n }, () => context.getSequence());
    let out = 0;
    const started = performance.now();
    await Promise.all(
      seqs.map(async (seq, i) => {
        active++;
        const tokens = await reply(seq, i); // not `out += await …`: that reads `out` before the wait
        out += tokens;
        active--;
      }),
    );
    const secs = (performance.now() - started) / 1000;
    const steps = sizes.filter((s) => s <= 4);
    return { tps: out / secs, perStep: steps.reduce((a, b) => a + b, 0) / Math.max(1, steps.length) };
  } finally {
    await context.dispose();
  }
}

// ---- 3. LlamaChat replies spread over contexts of 1 thread each, one or two per core, as Parley's `contexts` ----
async function sideBySide(n: number, perCore: number): Promise<number> {
  const count = Math.min(cores * perCore, n);
  const contexts = await Promise.all(
    Array.from({ length: count }, () =>
      model.createContext({ contextSize: 1024, sequences: Math.ceil(n / count), threads: 1 }),
    ),
  );
  try {
    const seqs = Array.from({ length: n }, (_, i) =>
      (contexts[i % contexts.length] as LlamaContext).getSequence(),
    );
    const started = performance.now();
    const out = (await Promise.all(seqs.map(reply))).reduce((a, b) => a + b, 0);
    return out / ((performance.now() - started) / 1000);
  } finally {
    await Promise.all(contexts.map((c) => c.dispose()));
  }
}

const raw = new Map<string, number[]>();
/** Section 3's measurements: [replies, contexts per core], keyed `replies:perCore`. */
const SPREADS = [
  [1, 1],
  [4, 1],
  [4, 2],
] as const;
const spread = new Map<string, number[]>();
const chat = new Map<string, { tps: number[]; perStep: number[] }>();
for (let round = 0; round < ROUNDS; round++) {
  for (const t of threadCounts) {
    for (const n of [1, 2, 4]) {
      const k = `${t}:${n}`;
      raw.set(k, [...(raw.get(k) ?? []), await decodeSteps(t, n)]);
    }
    for (const d of ["nextCycle", "gate"] as const) {
      for (const n of [1, 4]) {
        const k = `${t}:${n}:${d}`;
        const r = await chatReplies(t, n, d);
        const e = chat.get(k) ?? { tps: [], perStep: [] };
        e.tps.push(r.tps);
        e.perStep.push(r.perStep);
        chat.set(k, e);
      }
    }
  }
  for (const [n, perCore] of SPREADS) {
    const key = `${n}:${perCore}`;
    spread.set(key, [...(spread.get(key) ?? []), await sideBySide(n, perCore)]);
  }
}

console.log("1. raw decode steps (one token per sequence per llama_decode), tokens/s summed");
console.log(
  `${"threads".padEnd(9)}${"batch 1".padStart(10)}${"batch 2".padStart(10)}${"batch 4".padStart(10)}   4 vs 1`,
);
for (const t of threadCounts) {
  const m = [1, 2, 4].map((n) => median(raw.get(`${t}:${n}`) ?? []));
  console.log(
    `${String(t).padEnd(9)}${m.map((v) => v.toFixed(0).padStart(10)).join("")}   ${((m[2] ?? 0) / (m[0] ?? 1)).toFixed(2)}x`,
  );
}
console.log("\n2. LlamaChat replies (node-llama-cpp only), output tokens/s summed, tokens per decode step");
console.log(
  `${"threads".padEnd(9)}${"dispatch".padEnd(11)}${"1 seq".padStart(9)}${"4 seqs".padStart(9)}   4 vs 1   tokens/step (4 seqs)`,
);
for (const t of threadCounts) {
  for (const d of ["nextCycle", "gate"] as const) {
    const one = median(chat.get(`${t}:1:${d}`)?.tps ?? []);
    const four = chat.get(`${t}:4:${d}`);
    const f = median(four?.tps ?? []);
    console.log(
      `${String(t).padEnd(9)}${d.padEnd(11)}${one.toFixed(0).padStart(9)}${f.toFixed(0).padStart(9)}   ${(f / one).toFixed(2)}x    ${median(four?.perStep ?? []).toFixed(2)}`,
    );
  }
}
const lone = median(spread.get("1:1") ?? []);
console.log(
  "\n3. LlamaChat replies over contexts of 1 thread each, decoding side by side (Parley's `contexts`: two per core by default where `threads` is 1)",
);
console.log(`${"contexts".padEnd(28)}${"1 reply".padStart(9)}${"4 replies".padStart(11)}   4 vs 1`);
for (const [label, perCore] of [
  [`${Math.min(cores, 4)} (one per core)`, 1],
  [`${Math.min(2 * cores, 4)} (two per core)`, 2],
] as const) {
  const four = median(spread.get(`4:${perCore}`) ?? []);
  console.log(
    `${label.padEnd(28)}${lone.toFixed(0).padStart(9)}${four.toFixed(0).padStart(11)}   ${(four / lone).toFixed(2)}x`,
  );
}
await model.dispose();
