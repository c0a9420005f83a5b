export { generate } from "./generate.ts";
export {
  type FileSourceResolver,
  logUnexpected,
  type MessageCall,
  type MessageOutcome,
  MessageService,
  type MessageServiceDeps,
  PreemptedError,
  type PreparedMessage,
  type ReplyChannel,
} from "./message-service.ts";
export { UsageTally } from "./usage-tally.ts";
