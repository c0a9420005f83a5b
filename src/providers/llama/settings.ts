import { availableParallelism } from "node:os";
import type { LlamaModelConfig } from "../../config/index.ts";
import type { GpuSetting } from "./runtime.ts";

/** A llama model entry with every default applied. */
export interface LlamaSettings {
  id: string;
  path: string;
  gpu: GpuSetting;
  gpuLayers: number | "auto" | "max";
  /** Tokens per slot; undefined: the model's training context, at most DEFAULT_CONTEXT. */
  contextWindow?: number;
  maxOutputTokens?: number;
  parallel: number;
  maxQueue: number;
  threads: number;
  batchThreads: number;
  /** Contexts the slots are spread over; undefined: chosen at load (see `contextCount`). */
  contexts?: number;
  cores: number;
  batchSize?: number;
  load: "eager" | "lazy";
  kvCacheType: "f16" | "q8_0" | "q4_0";
  download: boolean;
  normalizeBilling: boolean;
  temperature: number;
}

export const DEFAULT_CONTEXT = 8192;
const DEFAULT_PARALLEL = 4;

/**
 * Defaults chosen by measurement on a 2-core CPU (see bench/inference.ts): generation is
 * memory-bound and loses to thread contention, so it gets half the cores (1 on 2 cores);
 * prompt processing is compute-bound and gets them all.
 */
export function llamaSettings(config: LlamaModelConfig, cores = availableParallelism()): LlamaSettings {
  const threads = config.threads ?? Math.max(1, Math.floor(cores / 2));
  return {
    id: config.id,
    path: config.path,
    gpu: config.gpu ?? "auto",
    gpuLayers: config.gpu_layers ?? "auto",
    contextWindow: config.context_window,
    maxOutputTokens: config.max_output_tokens,
    parallel: config.parallel ?? DEFAULT_PARALLEL,
    maxQueue: config.max_queue ?? 256,
    threads,
    batchThreads: config.batch_threads ?? Math.max(threads, cores),
    contexts: config.contexts,
    cores,
    batchSize: config.batch_size,
    load: config.load ?? "eager",
    kvCacheType: config.kv_cache_type ?? "f16",
    download: config.download ?? true,
    normalizeBilling: config.normalize_claude_code_billing ?? true,
    temperature: config.temperature ?? 1,
  };
}
