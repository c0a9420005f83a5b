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
export {
  type ChunkTranslatorOptions,
  OpenAIChunkTranslator,
  type RejectedToolCall,
  UpstreamStreamError,
} from "./stream.ts";
export { estimateTokens, UpstreamTokenizer } from "./tokens.ts";
export { toAnthropicToolId, toUpstreamToolId } from "./tool-ids.ts";
export { checkToolInput, type ToolInputCheck } from "./tool-input.ts";
export type * from "./types.ts";
