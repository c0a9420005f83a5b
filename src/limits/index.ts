export type { Limiter, TokenCharge } from "./limiter.ts";
export { MemoryLimiter } from "./memory.ts";
