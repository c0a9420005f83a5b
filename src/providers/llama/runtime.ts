import { getLlama, type Llama, LlamaLogLevel } from "node-llama-cpp";

export type GpuSetting = "auto" | false | "cuda" | "vulkan" | "metal";

const instances = new Map<string, Promise<Llama>>();

/**
 * One node-llama-cpp runtime per process (and GPU setting), shared by every llama model:
 * loading the native binding is the slow part of start-up, so it happens once. Never builds
 * from source or downloads a binary at run time (`build: "never"`).
 */
export function sharedLlama(gpu: GpuSetting): Promise<Llama> {
  const key = String(gpu);
  let llama = instances.get(key);
  if (!llama) {
    llama = getLlama({
      build: "never",
      gpu,
      logLevel: LlamaLogLevel.error,
      progressLogs: false,
      // 0: each context uses exactly the threads it asks for (see thread-policy.ts).
      maxThreads: 0,
    });
    llama.catch(() => instances.delete(key));
    instances.set(key, llama);
  }
  return llama;
}
