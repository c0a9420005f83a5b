import type { GbnfJsonSchema } from "node-llama-cpp";
import { ApiError, invalidRequest } from "../../protocol/index.ts";

type Json = Record<string, unknown>;

const BASIC = ["string", "number", "integer", "boolean", "null"] as const;
const FORMATS = new Set(["date-time", "time", "date"]);

/**
 * The part of a client's JSON Schema that node-llama-cpp's grammar can enforce: types,
 * properties/required, additionalProperties, items/prefixItems, enum/const, oneOf/anyOf,
 * string lengths and date formats, array/object sizes, local `$defs` refs. Keywords the
 * grammar cannot express (pattern, minimum, allOf, …) are dropped, so they are not enforced;
 * an unconstrained schema (`{}`) becomes "any JSON value".
 */
export function toGrammarSchema(schema: unknown, label?: string): GbnfJsonSchema {
  try {
    return grammarSchema(schema);
  } catch (err) {
    if (label && err instanceof ApiError) throw invalidRequest(`${label}: ${err.message}`);
    throw err;
  }
}

function grammarSchema(schema: unknown): GbnfJsonSchema {
  const out = convert(schema, 0);
  const defs = isObject(schema) ? (schema.$defs ?? schema.definitions) : undefined;
  if (isObject(defs) && isObject(out) && !("$ref" in out)) {
    return {
      ...out,
      $defs: Object.fromEntries(Object.entries(defs).map(([k, v]) => [k, convert(v, 1)])),
    } as GbnfJsonSchema;
  }
  return out;
}

function convert(schema: unknown, depth: number): GbnfJsonSchema {
  if (!isObject(schema) || depth > 32) return anyValue(depth);
  const description = typeof schema.description === "string" ? { description: schema.description } : {};
  if (typeof schema.$ref === "string") {
    const ref = schema.$ref.replace("#/definitions/", "#/$defs/");
    return (ref.startsWith("#/$defs/") ? { $ref: ref } : anyValue(depth)) as GbnfJsonSchema;
  }
  if ("const" in schema) return { const: schema.const as string, ...description };
  if (Array.isArray(schema.enum)) return { enum: schema.enum as string[], ...description };
  const variants = (schema.oneOf ?? schema.anyOf) as unknown;
  if (Array.isArray(variants) && variants.length > 0) {
    return { oneOf: variants.map((v) => convert(mergeBase(schema, v), depth + 1)), ...description };
  }
  const type = schema.type;
  if (Array.isArray(type)) {
    const types = type.filter((t): t is string => typeof t === "string");
    if (types.every((t) => (BASIC as readonly string[]).includes(t))) {
      return { type: types as (typeof BASIC)[number][], ...description };
    }
    return { oneOf: types.map((t) => convert({ ...schema, type: t }, depth + 1)), ...description };
  }
  switch (type) {
    case "object":
      return objectSchema(schema, depth, description);
    case "array":
      return arraySchema(schema, depth, description);
    case "string":
      return stringSchema(schema, description);
    case "number":
    case "integer":
    case "boolean":
    case "null":
      return { type, ...description };
    default:
      if (isObject(schema.properties)) return objectSchema(schema, depth, description);
      return anyValue(depth);
  }
}

function objectSchema(schema: Json, depth: number, description: Json): GbnfJsonSchema {
  const props = isObject(schema.properties) ? schema.properties : {};
  const properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, convert(v, depth + 1)]));
  const required = Array.isArray(schema.required)
    ? schema.required.filter((r): r is string => typeof r === "string" && r in properties)
    : [];
  const extra = schema.additionalProperties;
  const additionalProperties =
    extra === undefined
      ? Object.keys(properties).length === 0
      : typeof extra === "boolean"
        ? extra
        : convert(extra, depth + 1);
  return {
    type: "object",
    properties,
    required,
    additionalProperties,
    ...pickInt(schema, "minProperties", "maxProperties"),
    ...description,
  } as GbnfJsonSchema;
}

function arraySchema(schema: Json, depth: number, description: Json): GbnfJsonSchema {
  const prefix = Array.isArray(schema.prefixItems)
    ? { prefixItems: schema.prefixItems.map((s) => convert(s, depth + 1)) }
    : {};
  return {
    type: "array",
    ...(schema.items !== undefined && schema.items !== true
      ? { items: convert(schema.items, depth + 1) }
      : {}),
    ...prefix,
    ...pickInt(schema, "minItems", "maxItems"),
    ...description,
  } as GbnfJsonSchema;
}

function stringSchema(schema: Json, description: Json): GbnfJsonSchema {
  if (typeof schema.format === "string" && FORMATS.has(schema.format)) {
    return { type: "string", format: schema.format as "date", ...description };
  }
  return { type: "string", ...pickInt(schema, "minLength", "maxLength"), ...description };
}

/** Any JSON value; nesting stops at a depth so the grammar stays finite. */
function anyValue(depth: number): GbnfJsonSchema {
  if (depth > 3) return { type: [...BASIC] };
  return {
    oneOf: [
      { type: [...BASIC] },
      { type: "array", items: anyValue(depth + 1) },
      { type: "object", additionalProperties: anyValue(depth + 1) },
    ],
  } as GbnfJsonSchema;
}

/** oneOf/anyOf branches inherit the parent's type and properties when they only narrow it. */
function mergeBase(parent: Json, variant: unknown): unknown {
  if (!isObject(variant)) return variant;
  const { oneOf: _o, anyOf: _a, description: _d, ...base } = parent;
  return { ...base, ...variant };
}

/**
 * A grammar spells out every repetition a size bound asks for, so bounds are capped to keep
 * grammar building bounded: a minimum above MAX_REPEAT cannot be enforced and is a 400; a
 * maximum above it is left out (the value is then only bounded by max_tokens).
 */
const MAX_REPEAT = 1_000;

function pickInt(schema: Json, ...keys: string[]): Json {
  const out: Json = {};
  for (const k of keys) {
    const v = schema[k];
    if (!Number.isInteger(v) || (v as number) < 0) continue;
    if ((v as number) <= MAX_REPEAT) out[k] = v;
    else if (k.startsWith("min"))
      throw invalidRequest(
        `${k}: ${v} is more than a grammar for the local model can enforce (at most ${MAX_REPEAT})`,
      );
  }
  return out;
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
