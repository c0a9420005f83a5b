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
}

/**
 * Uses `batchThreads` for prompt processing and multi-sequence decode steps, `threads` for a
 * single sequence's generation step. On small CPUs these
 * want different values (measured on 2 cores: generation up to 1.7× slower with 2 threads than
 * with 1, prompt processing faster with 2), and node-llama-cpp has one thread count per context,
 * so the native batch calls are wrapped. If the binding's shape ever changes, this does nothing
 * and the context keeps `threads` for both.
 */
export function splitThreads(context: LlamaContext, threads: number, batchThreads: number): boolean {
  if (threads === batchThreads) return false;
  const native = (context as unknown as { _ctx?: NativeContext })._ctx;
  if (!native || typeof native.initBatch !== "function" || typeof native.setThreads !== "function")
    return false;
  const initBatch = native.initBatch.bind(native);
  const setThreads = native.setThreads.bind(native);
  let current = threads;
  try {
    // The binding's methods are read-only on its prototype; own properties shadow them.
    Object.defineProperty(native, "initBatch", {
      value: (size: number) => {
        initBatch(size);
        current = size >= MULTI_TOKEN_BATCH ? batchThreads : threads;
        setThreads(current);
      },
    });
    Object.defineProperty(native, "setThreads", { value: () => setThreads(current) });
    return true;
  } catch {
    return false;
  }
}
