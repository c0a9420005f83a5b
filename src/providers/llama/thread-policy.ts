import type { LlamaContext } from "node-llama-cpp";

/**
 * Batches of at least this many tokens get `batchThreads`: prompt processing, and generation
 * steps that decode several sequences at once (measured on 2 cores, bench:inference: 4 streams
 * 75 → 96–118 tokens/s when their shared steps use 2 threads; a lone sequence's step stays on 1).
 */
const MULTI_TOKEN_BATCH = 2;

interface NativeContext {
  initBatch(size: number): void;
  setThreads(threads: number): void;
  decodeBatch(): Promise<unknown>;
}

/** How long another context's decode waits for a wide batch before it runs beside it anyway. */
const MAX_HOLD_MS = 50;

/**
 * Shared by one model's contexts: while one of them decodes a batch on every core (`batchThreads`),
 * the others' decodes wait for that batch to end, for at most MAX_HOLD_MS. A batch goes wide only
 * when its context is alone, but requests that arrive together start a moment apart: the first
 * one's prompt took both cores, the next ones' decodes then ran beside it, and a ggml decode
 * whose threads share cores with several others stalls at every barrier (one request of a round
 * then waited up to 650 ms for its first token). A short prompt's wide batch is over within the
 * hold; a long one's is not, and a request arriving during it runs beside it after the hold, as it
 * did before: waiting for the whole batch (512 tokens by default) cost such a request 4× its time
 * to first token (451 against 114 ms behind a 2,190-token prompt). Measured on 2 cores with four
 * contexts: 4 requests of 17-token prompts arriving together, mean time to first token 106 ms
 * against 170 without the gate (10 rounds); a short request 300 ms into that long prompt,
 * 103–125 ms against 104–116 (three runs of 6 rounds).
 */
export class WideBatchGate {
  private released: Promise<void> | undefined;

  /** Runs one decode: a wide one holds the gate until it settles or the hold ends, another first waits. */
  decode<T>(wide: boolean, run: () => Promise<T>): Promise<T> {
    if (!wide) {
      const released = this.released;
      return released ? released.then(run) : run();
    }
    const result = run();
    let timer: NodeJS.Timeout | undefined;
    const released: Promise<void> = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, MAX_HOLD_MS);
      result.then(
        () => resolve(),
        () => resolve(),
      );
    }).finally(() => {
      clearTimeout(timer);
      if (this.released === released) this.released = undefined;
    });
    this.released = released;
    return result;
  }
}

/**
 * Uses `batchThreads` for prompt processing and multi-sequence decode steps, `threads` for a
 * single sequence's generation step. On small CPUs these
 * want different values (measured on 2 cores: generation up to 1.7× slower with 2 threads than
 * with 1, prompt processing faster with 2), and node-llama-cpp has one thread count per context,
 * so the native batch calls are wrapped. If the binding's shape ever changes, this does nothing
 * and the context keeps `threads` for both.
 *
 * `alone` says whether this context is the only one of its model with work: with several
 * contexts decoding side by side (see `contextCount`) a batch takes every core only while the
 * others are idle, and `gate` (one per model) holds the others' decodes back while it runs.
 */
export function splitThreads(
  context: LlamaContext,
  threads: number,
  batchThreads: number,
  alone: () => boolean = () => true,
  gate: WideBatchGate = new WideBatchGate(),
): boolean {
  if (threads === batchThreads) return false;
  const native = (context as unknown as { _ctx?: NativeContext })._ctx;
  if (
    !native ||
    typeof native.initBatch !== "function" ||
    typeof native.setThreads !== "function" ||
    typeof native.decodeBatch !== "function"
  )
    return false;
  const initBatch = native.initBatch.bind(native);
  const setThreads = native.setThreads.bind(native);
  const decodeBatch = native.decodeBatch.bind(native);
  let current = threads;
  try {
    // The binding's methods are read-only on its prototype; own properties shadow them.
    Object.defineProperty(native, "initBatch", {
      value: (size: number) => {
        initBatch(size);
        current = size >= MULTI_TOKEN_BATCH && alone() ? batchThreads : threads;
        setThreads(current);
      },
    });
    Object.defineProperty(native, "setThreads", { value: () => setThreads(current) });
    Object.defineProperty(native, "decodeBatch", {
      value: () => gate.decode(current === batchThreads, decodeBatch),
    });
    return true;
  } catch {
    return false;
  }
}

/** What decides how many contexts a model's slots are spread over. */
export interface ContextCountInput {
  /** `contexts` from the config, if set. */
  configured?: number;
  slots: number;
  cores: number;
  threads: number;
  gpuLayers: number;
}

/**
 * How many contexts a model's slots are spread over, each decoding on its own `threads` in
 * parallel with the others. One context batches all its sequences into each decode step, which
 * pays only where the CPU's small-batch kernel reads the weights once for the whole batch; on
 * CPUs where a 4-token step costs as much as four 1-token steps (measured: 2-core AMD EPYC with
 * Q8_0 weights, 3.3–3.6× for a 2-token step) it gains nothing, while contexts on one thread
 * each decode side by side: node-llama-cpp alone, 4 replies on 2 contexts gave 159–168 tokens/s
 * against 96–100 for one reply and 101–103 for 4 replies on one context (2 threads).
 *
 * Explicit `contexts` wins; with layers on a GPU one context (a GPU runs one decode at a time and
 * each context costs its own compute buffers). Otherwise as many as `threads` fit in the cores,
 * and twice that when `threads` is 1: a one-thread decode has no barrier where its threads wait
 * for each other, so two contexts can share a core, and each keeps it busy while the other's
 * token is sampled and handed to the main thread (bench:inference on 2 cores, 4 streams: 191–210
 * tokens/s on 4 contexts against 151–180 on 2). Never more contexts than slots.
 */
export function contextCount(o: ContextCountInput): number {
  const lanes = Math.max(1, Math.floor(o.cores / o.threads));
  const wanted = o.configured ?? (o.gpuLayers > 0 ? 1 : o.threads === 1 ? 2 * lanes : lanes);
  return Math.max(1, Math.min(wanted, o.slots));
}

/**
 * The context counts the memory plan may use for `slots` slots, the preferred first: short of
 * memory, a model gets fewer contexts (each has buffers of its own) before it gets fewer slots.
 * A configured count is kept.
 */
export function contextChoices(o: ContextCountInput): number[] {
  const preferred = contextCount(o);
  if (o.configured !== undefined) return [preferred];
  return Array.from({ length: preferred }, (_, i) => preferred - i);
}
