export { ModelCatalog, type ModelEntry } from "./catalog.ts";
export { ConcurrencyGate } from "./gate.ts";
export { checkCapabilities, clampMaxTokens, resolveModel, signsThinking } from "./route.ts";
