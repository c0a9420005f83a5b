export * from "./blocks.ts";
export * from "./request.ts";
export * from "./response.ts";
export { TaggedUnion } from "./tagged.ts";
