export { matchedStopSequence, promptUsageFrom, stopReasonFor } from "./finish.ts";
export { OpenAIProvider } from "./provider.ts";
export {
  type TranslateOptions,
  toOpenAIMessages,
  toOpenAIRequest,
  toOpenAITool,
  toOpenAIToolChoice,
} from "./request.ts";
export { fromOpenAIResponse } from "./response.ts";
export { type ChunkTranslatorOptions, OpenAIChunkTranslator, UpstreamStreamError } from "./stream.ts";
export { estimateTokens, UpstreamTokenizer } from "./tokens.ts";
export type * from "./types.ts";
