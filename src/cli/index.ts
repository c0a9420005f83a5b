export { registerKeys } from "./keys.ts";
export { registerServe } from "./serve.ts";
