export { AnthropicProvider } from "./provider.ts";
export { type RelayUsage, SseFrameReader } from "./sse.ts";
