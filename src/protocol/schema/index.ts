export * from "./blocks.ts";
export { OPEN_ENUM_FIELDS, unknownEnumValues } from "./open-enum.ts";
export * from "./request.ts";
export * from "./response.ts";
export { TaggedUnion } from "./tagged.ts";
