import type { ModelConfig } from "../config/index.ts";
import { AnthropicProvider } from "./anthropic/index.ts";
import { createLlamaProvider } from "./llama/index.ts";
import { MockProvider } from "./mock/index.ts";
import { OpenAIProvider } from "./openai/index.ts";
import type { Provider, ProviderDeps } from "./provider.ts";

export type {
  LoadState,
  Provider,
  ProviderDeps,
  ProviderLogger,
  ProviderStatus,
  RelayedReply,
  RelayingProvider,
  StreamOptions,
  UpstreamHealth,
} from "./provider.ts";
export { UnavailableProvider } from "./unavailable.ts";
export { FallbackProvider, type ModelLookup, withFallbacks } from "./upstream/index.ts";

/** One provider per model entry. */
export function createProvider(config: ModelConfig, deps: ProviderDeps): Provider {
  switch (config.provider) {
    case "mock":
      return new MockProvider(config, deps.signer);
    case "openai":
      return new OpenAIProvider(config, deps);
    case "anthropic":
      return new AnthropicProvider(config, deps);
    case "llama":
      return createLlamaProvider(config, deps);
  }
}

export const isRelaying = (p: Provider): p is import("./provider.ts").RelayingProvider =>
  typeof (p as { relay?: unknown }).relay === "function";
