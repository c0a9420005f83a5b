export * from "./errors.ts";
export { foldStream, StreamFolder, statusForErrorType } from "./fold.ts";
export { newMessageId, newRequestId, newToolUseId } from "./ids.ts";
export { emptyMessage, emptyUsage, MessageStream, type PromptUsage } from "./message-stream.ts";
export * from "./request.ts";
export * from "./schema/index.ts";
export { encodeEvent, SSE_HEADERS } from "./sse.ts";
export { type StopResult, StopSequenceMatcher } from "./stop-sequences.ts";
export { assertValid, compileValidator, describeErrors, type Validator } from "./validate.ts";
