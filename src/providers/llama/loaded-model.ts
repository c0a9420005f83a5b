import { totalmem } from "node:os";
import { join } from "node:path";
import {
  type ChatWrapper,
  GgmlType,
  type LlamaContext,
  type LlamaModel,
  resolveChatWrapper,
  type Tokenizer,
} from "node-llama-cpp";
import type { ProviderLogger } from "../provider.ts";
import { prioritiseCacheEdits } from "./cache-edits.ts";
import { contextBudget, mb, planSlots, type SlotPlan } from "./memory-plan.ts";
import { locateModelFile } from "./model-file.ts";
import { sharedLlama } from "./runtime.ts";
import { DEFAULT_CONTEXT, type LlamaSettings } from "./settings.ts";
import { SlotPool } from "./slot-pool.ts";
import { splitThreads } from "./thread-policy.ts";
import { shareMemoizedTokenizer } from "./tokenizer-memo.ts";

/** A GGUF model in memory with its context, chat template and generation slots. */
export interface LoadedModel {
  model: LlamaModel;
  context: LlamaContext;
  chatWrapper: ChatWrapper;
  /** The model's tokenizer, remembering long texts: prompts are rendered and counted with it. */
  tokenizer: Tokenizer;
  pool: SlotPool;
  /** Tokens each slot holds: prompt plus reply must fit. */
  contextSize: number;
  file: string;
  dispose(): Promise<void>;
}

export interface LoadOptions {
  settings: LlamaSettings;
  dataDir: string;
  logger: ProviderLogger;
  modelsDir?: string;
  signal?: AbortSignal;
}

export async function loadModel({
  settings,
  dataDir,
  logger,
  modelsDir,
  signal,
}: LoadOptions): Promise<LoadedModel> {
  const file = await locateModelFile({
    path: settings.path,
    cacheDir: join(dataDir, "models"),
    modelsDir,
    download: settings.download,
    signal,
  });
  const started = performance.now();
  const rssBefore = process.memoryUsage().rss;
  const llama = await sharedLlama(settings.gpu);
  const model = await llama.loadModel({ modelPath: file, gpuLayers: settings.gpuLayers, loadSignal: signal });
  try {
    const contextSize = settings.contextWindow ?? Math.min(model.trainContextSize, DEFAULT_CONTEXT);
    const kvType = KV_TYPES[settings.kvCacheType];
    const plan = await planContext(model, settings, contextSize, kvType);
    if (plan.reduced) logger.warn({ model: settings.id, context_window: contextSize }, plan.reduced);
    const context = await model
      .createContext({
        contextSize,
        sequences: plan.parallel,
        experimentalKvCacheKeyType: kvType,
        experimentalKvCacheValueType: kvType,
        threads: settings.threads,
        batchSize: settings.batchSize,
        createSignal: signal,
      })
      .catch((err: Error) => {
        // llama.cpp refuses a quantised cache whose block size does not divide the head size.
        const hint =
          settings.kvCacheType === "f16"
            ? ""
            : `; kv_cache_type ${settings.kvCacheType} may not suit this model, try f16`;
        throw new Error(`${err.message} (${plan.parallel} × ${contextSize}-token slots${hint})`);
      });
    const split = splitThreads(context, settings.threads, settings.batchThreads);
    const chatWrapper = resolveChatWrapper(model);
    const pool = new SlotPool(context, plan.parallel, settings.maxQueue, prioritiseCacheEdits(context));
    logger.info(
      {
        model: settings.id,
        file,
        load_ms: Math.round(performance.now() - started),
        weights_mb: mb(model.size),
        context_mb: mb(context.stateSize),
        rss_mb: mb(process.memoryUsage().rss),
        rss_added_mb: mb(process.memoryUsage().rss - rssBefore),
        gpu: llama.gpu,
        gpu_layers: model.gpuLayers,
        context_window: context.contextSize,
        parallel: plan.parallel,
        kv_cache_type: settings.kvCacheType,
        context_mb_estimated: mb(plan.estimatedBytes),
        memory_mb: mb(totalmem()),
        threads: settings.threads,
        batch_threads: split ? settings.batchThreads : settings.threads,
        chat_template: chatWrapper.wrapperName,
      },
      "llama model loaded",
    );
    return {
      model,
      context,
      chatWrapper,
      tokenizer: shareMemoizedTokenizer(model),
      pool,
      contextSize: context.contextSize,
      file,
      dispose: async () => {
        await context.dispose();
        await model.dispose();
      },
    };
  } catch (err) {
    await model.dispose();
    throw err;
  }
}

const KV_TYPES = { f16: GgmlType.F16, q8_0: GgmlType.Q8_0, q4_0: GgmlType.Q4_0 } as const;

/** The slot count that fits this machine's memory at the configured window (see memory-plan.ts). */
async function planContext(
  model: LlamaModel,
  settings: LlamaSettings,
  contextSize: number,
  kvType: GgmlType,
): Promise<SlotPlan> {
  const estimates = new Map<number, number>();
  for (let slots = 1; slots <= settings.parallel; slots++) {
    const r = await model.fileInsights.estimateContextResourceRequirementsV2({
      contextSize,
      sequences: slots,
      modelGpuLayers: model.gpuLayers,
      batchSize: settings.batchSize,
      kvCacheKeyType: kvType,
      kvCacheValueType: kvType,
    });
    estimates.set(slots, r.cpuRam + r.gpuVram);
  }
  return planSlots({
    parallel: settings.parallel,
    bytesFor: (slots) => estimates.get(slots) ?? 0,
    budgetBytes: contextBudget(totalmem(), model.size),
  });
}
