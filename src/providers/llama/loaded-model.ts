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
import { type PoolContext, SlotPool } from "./slot-pool.ts";
import { contextChoices, splitThreads, WideBatchGate } from "./thread-policy.ts";
import { shareMemoizedTokenizer } from "./tokenizer-memo.ts";

/** A GGUF model in memory with its contexts, chat template and generation slots. */
export interface LoadedModel {
  model: LlamaModel;
  /** The contexts the slots are spread over (see `contextCount`). */
  contexts: LlamaContext[];
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
    const contextsFor = (slots: number) =>
      contextChoices({
        configured: settings.contexts,
        slots,
        cores: settings.cores,
        threads: settings.threads,
        gpuLayers: model.gpuLayers,
      });
    const plan = await planContext(model, settings, contextSize, kvType, contextsFor);
    if (plan.reduced) logger.warn({ model: settings.id, context_window: contextSize }, plan.reduced);
    const shares = slotShares(plan.parallel, plan.contexts);
    const contexts = await createContexts(model, settings, { contextSize, kvType, shares, signal });
    const pooled: PoolContext[] = contexts.map((context, i) => ({
      context,
      slots: shares[i] as number,
      edits: prioritiseCacheEdits(context),
    }));
    const pool = new SlotPool(pooled, settings.maxQueue);
    const gate = new WideBatchGate();
    const split = contexts
      .map((context, i) =>
        splitThreads(context, settings.threads, settings.batchThreads, () => pool.aloneIn(i), gate),
      )
      .every(Boolean);
    const chatWrapper = resolveChatWrapper(model);
    const window = contexts[0]?.contextSize ?? contextSize;
    logger.info(
      {
        model: settings.id,
        file,
        load_ms: Math.round(performance.now() - started),
        weights_mb: mb(model.size),
        context_mb: mb(contexts.reduce((sum, c) => sum + c.stateSize, 0)),
        rss_mb: mb(process.memoryUsage().rss),
        rss_added_mb: mb(process.memoryUsage().rss - rssBefore),
        gpu: llama.gpu,
        gpu_layers: model.gpuLayers,
        context_window: window,
        parallel: plan.parallel,
        contexts: contexts.length,
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
      contexts,
      chatWrapper,
      tokenizer: shareMemoizedTokenizer(model),
      pool,
      contextSize: window,
      file,
      dispose: async () => {
        await Promise.all(contexts.map((c) => c.dispose()));
        await model.dispose();
      },
    };
  } catch (err) {
    await model.dispose();
    throw err;
  }
}

/** One context per share of the slots; on a failure the ones made so far are freed. */
async function createContexts(
  model: LlamaModel,
  settings: LlamaSettings,
  o: { contextSize: number; kvType: GgmlType; shares: number[]; signal?: AbortSignal },
): Promise<LlamaContext[]> {
  const contexts: LlamaContext[] = [];
  try {
    for (const sequences of o.shares) {
      const context = await model
        .createContext({
          contextSize: o.contextSize,
          sequences,
          experimentalKvCacheKeyType: o.kvType,
          experimentalKvCacheValueType: o.kvType,
          threads: settings.threads,
          batchSize: settings.batchSize,
          createSignal: o.signal,
        })
        .catch((err: Error) => {
          // llama.cpp refuses a quantised cache whose block size does not divide the head size.
          const hint =
            settings.kvCacheType === "f16"
              ? ""
              : `; kv_cache_type ${settings.kvCacheType} may not suit this model, try f16`;
          throw new Error(`${err.message} (${sequences} × ${o.contextSize}-token slots${hint})`);
        });
      contexts.push(context);
    }
    return contexts;
  } catch (err) {
    await Promise.all(contexts.map((c) => c.dispose()));
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
  contextsFor: (slots: number) => number[],
): Promise<SlotPlan> {
  /** One context's memory by its sequence count; each context has buffers of its own. */
  const perContext = new Map<number, number>();
  for (let sequences = 1; sequences <= settings.parallel; sequences++) {
    const r = await model.fileInsights.estimateContextResourceRequirementsV2({
      contextSize,
      sequences,
      modelGpuLayers: model.gpuLayers,
      batchSize: settings.batchSize,
      kvCacheKeyType: kvType,
      kvCacheValueType: kvType,
    });
    perContext.set(sequences, r.cpuRam + r.gpuVram);
  }
  return planSlots({
    parallel: settings.parallel,
    contextsFor,
    bytesFor: (slots, contexts) =>
      slotShares(slots, contexts).reduce((sum, n) => sum + (perContext.get(n) ?? 0), 0),
    budgetBytes: contextBudget(totalmem(), model.size),
  });
}

/** `slots` spread as evenly as they go over `contexts` contexts. */
export function slotShares(slots: number, contexts: number): number[] {
  return Array.from(
    { length: contexts },
    (_, i) => Math.floor(slots / contexts) + (i < slots % contexts ? 1 : 0),
  );
}
