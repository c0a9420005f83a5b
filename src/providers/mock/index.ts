export { exampleFor } from "./example-input.ts";
export { MockProvider } from "./provider.ts";
export { type MockScript, readScript } from "./script.ts";
export { countMockTokens, mockTokens, renderMockPrompt } from "./tokens.ts";
