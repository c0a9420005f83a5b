export { type ModelEntry, ModelCatalog } from "./catalog.ts";
export { ConcurrencyGate } from "./gate.ts";
export { checkCapabilities, clampMaxTokens, resolveModel } from "./route.ts";
