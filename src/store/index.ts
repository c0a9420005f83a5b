export { discardUsage, type UsageRecord, type UsageRecorder } from "./usage-record.ts";
