export { generate } from "./generate.ts";
export {
  logUnexpected,
  type MessageCall,
  type MessageOutcome,
  MessageService,
  type MessageServiceDeps,
  type PreparedMessage,
  type ReplyChannel,
} from "./message-service.ts";
export { UsageTally } from "./usage-tally.ts";
