import { join } from "node:path";
import { type ChatWrapper, type LlamaContext, type LlamaModel, resolveChatWrapper } from "node-llama-cpp";
import type { ProviderLogger } from "../provider.ts";
import { locateModelFile } from "./model-file.ts";
import { sharedLlama } from "./runtime.ts";
import { DEFAULT_CONTEXT, type LlamaSettings } from "./settings.ts";
import { SlotPool } from "./slot-pool.ts";
import { splitThreads } from "./thread-policy.ts";

/** A GGUF model in memory with its context, chat template and generation slots. */
export interface LoadedModel {
  model: LlamaModel;
  context: LlamaContext;
  chatWrapper: ChatWrapper;
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
    const context = await model.createContext({
      contextSize,
      sequences: settings.parallel,
      threads: settings.threads,
      batchSize: settings.batchSize,
      createSignal: signal,
    });
    const split = splitThreads(context, settings.threads, settings.batchThreads);
    const chatWrapper = resolveChatWrapper(model);
    const pool = new SlotPool(context, settings.parallel, settings.maxQueue);
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
        parallel: settings.parallel,
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

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
