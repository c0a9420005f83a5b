export { ModelCatalog, type ModelEntry } from "./catalog.ts";
export { type BackgroundSlot, ConcurrencyGate } from "./gate.ts";
export { checkCapabilities, clampMaxTokens, resolveModel, signsThinking } from "./route.ts";
