import type { LlamaModelConfig } from "../../config/index.ts";
import type { ProviderDeps } from "../provider.ts";
import { LlamaProvider } from "./provider.ts";

export { locateModelFile, ModelFileError } from "./model-file.ts";
export { LlamaProvider, type LlamaProviderOptions } from "./provider.ts";
export { type LlamaSettings, llamaSettings } from "./settings.ts";

/** The provider for a `provider: llama` model entry; PARLEY_MODELS_DIR is searched first for its file. */
export function createLlamaProvider(
  config: LlamaModelConfig,
  deps: ProviderDeps,
  env: NodeJS.ProcessEnv = process.env,
): LlamaProvider {
  return new LlamaProvider(config, deps, { modelsDir: env.PARLEY_MODELS_DIR || undefined });
}
