import Type, { type Static, type TSchema } from "typebox";

/**
 * A union of object schemas told apart by a tag field (`type` unless told otherwise). Emitted as `oneOf` with an
 * OpenAPI `discriminator`, so Ajv checks only the branch the tag names and reports that
 * branch's errors (an `anyOf` would report every branch's).
 */
export function TaggedUnion<T extends TSchema[]>(variants: [...T], tag = "type") {
  return Type.Unsafe<Static<Type.TUnion<T>>>({
    type: "object",
    required: [tag],
    oneOf: variants,
    discriminator: { propertyName: tag },
  });
}
