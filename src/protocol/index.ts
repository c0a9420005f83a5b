export { deltaTokens } from "./delta-tokens.ts";
export * from "./errors.ts";
export {
  type EventBatches,
  type EventOrBatch,
  eventsOrBatches,
  inBatches,
  isBatch,
} from "./event-batches.ts";
export { foldStream, StreamFolder, statusForErrorType } from "./fold.ts";
export { newMcpToolUseId, newMessageId, newRequestId, newToolUseId } from "./ids.ts";
export { assertJsonDepth, MAX_JSON_DEPTH } from "./json-depth.ts";
export { type JsonString, quoteJsonString, readJsonString } from "./json-string.ts";
export { composeMcpToolName } from "./mcp-names.ts";
export { emptyMessage, emptyUsage, MessageStream, type PromptUsage } from "./message-stream.ts";
export * from "./request.ts";
export * from "./schema/index.ts";
export { encodeEvent, SSE_HEADERS, templateDeltaLength } from "./sse.ts";
export { type StopResult, StopSequenceMatcher } from "./stop-sequences.ts";
export { ThinkingSigner } from "./thinking-signature.ts";
export { assertValid, compileValidator, describeErrors, type Validator } from "./validate.ts";
