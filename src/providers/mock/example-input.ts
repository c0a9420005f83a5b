import { invalidRequest } from "../../protocol/index.ts";

type Schema = Record<string, unknown>;

/** What one example may cost in array items and string characters, so a schema cannot exhaust the server. */
const MAX_EXAMPLE_SIZE = 200_000;

interface Ctx {
  text: string;
  root: unknown;
  /** Items and characters still allowed. */
  left: number;
}

function spend(ctx: Ctx, n: number): void {
  ctx.left -= n;
  if (ctx.left < 0) {
    throw invalidRequest(
      `The schema requires a value larger than the mock model generates (over ${MAX_EXAMPLE_SIZE} items and characters)`,
    );
  }
}

/**
 * A small value that is valid against a JSON Schema, for forced tool calls and structured
 * output. Strings take `text` (cut or padded to fit length limits) so replies stay readable.
 */
export function exampleFor(schema: unknown, text: string): unknown {
  return example(schema, { text, root: schema, left: MAX_EXAMPLE_SIZE }, 0);
}

function example(schema: unknown, ctx: Ctx, depth: number): unknown {
  if (schema === true || schema === undefined || schema === null) return {};
  if (typeof schema !== "object" || depth > 32) return null;
  const s = schema as Schema;
  if (typeof s.$ref === "string") return example(resolveRef(ctx.root, s.$ref), ctx, depth + 1);
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  if ("default" in s) return s.default;
  if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
  for (const key of ["anyOf", "oneOf"] as const) {
    const options = s[key];
    if (Array.isArray(options) && options.length) {
      const nonNull = options.find((o) => (o as Schema)?.type !== "null") ?? options[0];
      return example(nonNull, ctx, depth + 1);
    }
  }
  if (Array.isArray(s.allOf)) return example(mergeAll(s.allOf as Schema[], ctx.root), ctx, depth + 1);
  const type = Array.isArray(s.type) ? (s.type.find((t) => t !== "null") ?? s.type[0]) : s.type;
  switch (type ?? (s.properties ? "object" : undefined)) {
    case "object":
      return exampleObject(s, ctx, depth);
    case "array":
      return exampleArray(s, ctx, depth);
    case "string":
      return exampleString(s, ctx);
    case "integer":
      return exampleNumber(s, true);
    case "number":
      return exampleNumber(s, false);
    case "boolean":
      return false;
    case "null":
      return null;
    default:
      return {};
  }
}

function exampleObject(s: Schema, ctx: Ctx, depth: number): Record<string, unknown> {
  const props = (s.properties ?? {}) as Record<string, unknown>;
  const required = Array.isArray(s.required) ? (s.required as string[]) : [];
  const out: Record<string, unknown> = {};
  for (const name of required) out[name] = example(props[name] ?? {}, ctx, depth + 1);
  const min = typeof s.minProperties === "number" ? s.minProperties : 0;
  for (const name of Object.keys(props)) {
    if (Object.keys(out).length >= min) break;
    if (!(name in out)) out[name] = example(props[name], ctx, depth + 1);
  }
  return out;
}

function exampleArray(s: Schema, ctx: Ctx, depth: number): unknown[] {
  const min = typeof s.minItems === "number" ? s.minItems : 0;
  const prefix = Array.isArray(s.prefixItems) ? (s.prefixItems as unknown[]) : [];
  spend(ctx, Math.max(min, prefix.length));
  const out: unknown[] = prefix.map((p) => example(p, ctx, depth + 1));
  while (out.length < min) out.push(example(s.items ?? {}, ctx, depth + 1));
  return out;
}

function exampleString(s: Schema, ctx: Ctx): string {
  const format = s.format;
  if (format === "date-time") return "2025-01-01T00:00:00Z";
  if (format === "date") return "2025-01-01";
  if (format === "email") return "mock@example.com";
  if (format === "uri" || format === "url") return "https://example.com/";
  if (format === "uuid") return "00000000-0000-4000-8000-000000000000";
  const min = typeof s.minLength === "number" ? s.minLength : 0;
  const max = typeof s.maxLength === "number" ? s.maxLength : Number.POSITIVE_INFINITY;
  const chars = [...ctx.text].slice(0, max);
  spend(ctx, Math.max(min, chars.length));
  return chars.join("") + "x".repeat(Math.max(0, min - chars.length));
}

function exampleNumber(s: Schema, integer: boolean): number {
  const min = numberOr(s.minimum, numberOr(s.exclusiveMinimum, undefined, integer ? 1 : 0.5));
  const max = numberOr(s.maximum, numberOr(s.exclusiveMaximum, undefined, integer ? -1 : -0.5));
  let n = min ?? (max !== undefined ? Math.min(0, max) : 0);
  if (integer) n = Math.ceil(n);
  const step = typeof s.multipleOf === "number" ? s.multipleOf : undefined;
  if (step) n = Math.ceil(n / step) * step;
  return n;
}

function numberOr(v: unknown, fallback: number | undefined, shift = 0): number | undefined {
  return typeof v === "number" ? v + shift : fallback;
}

function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith("#")) return {};
  let node: unknown = root;
  for (const part of ref.slice(1).split("/").filter(Boolean)) {
    node = (node as Schema | undefined)?.[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return node ?? {};
}

function mergeAll(schemas: Schema[], root: unknown): Schema {
  const merged: Schema = { type: "object", properties: {}, required: [] };
  for (const raw of schemas) {
    const s = (typeof raw.$ref === "string" ? resolveRef(root, raw.$ref) : raw) as Schema;
    Object.assign(merged.properties as Schema, s.properties ?? {});
    (merged.required as string[]).push(...((s.required as string[]) ?? []));
    if (s.type && s.type !== "object") return s;
  }
  return merged;
}
