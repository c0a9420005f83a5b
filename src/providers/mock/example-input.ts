import { invalidRequest } from "../../protocol/index.ts";

type Schema = Record<string, unknown>;

/**
 * Bounds on one example, so a small hostile schema (recursive `$ref`s, wide required objects,
 * huge `minItems`) cannot stall the event loop or exhaust memory: past any of them the request
 * is a 400 that names the schema part.
 */
const MAX_EXAMPLE_SIZE = 200_000;
const MAX_NODES = 10_000;
const MAX_DEPTH = 32;
const MAX_MS = 20;

interface Ctx {
  text: string;
  root: unknown;
  /** Where the schema comes from, for errors: `tools[0].input_schema`. */
  label: string;
  /** Items and characters still allowed. */
  left: number;
  /** Schema nodes still allowed. */
  nodes: number;
  started: number;
  refs: Map<string, unknown>;
}

function tooBig(ctx: Ctx, at: string, why: string): never {
  throw invalidRequest(`${ctx.label}: the mock cannot build a value for the schema at ${at}: ${why}`);
}

function spend(ctx: Ctx, n: number, at: string): void {
  ctx.left -= n;
  if (ctx.left < 0)
    tooBig(ctx, at, `it requires a value larger than ${MAX_EXAMPLE_SIZE} items and characters`);
}

/**
 * A small value that is valid against a JSON Schema, for forced tool calls and structured
 * output. Strings take `text` (cut or padded to fit length limits) so replies stay readable.
 * `label` names the schema in errors.
 */
export function exampleFor(schema: unknown, text: string, label = "input_schema"): unknown {
  const ctx: Ctx = {
    text,
    root: schema,
    label,
    left: MAX_EXAMPLE_SIZE,
    nodes: MAX_NODES,
    started: performance.now(),
    refs: new Map(),
  };
  return example(schema, ctx, 0, "#");
}

function example(schema: unknown, ctx: Ctx, depth: number, at: string): unknown {
  if (--ctx.nodes < 0) tooBig(ctx, at, `it expands to more than ${MAX_NODES} values`);
  if ((ctx.nodes & 1023) === 0 && performance.now() - ctx.started > MAX_MS)
    tooBig(ctx, at, `it takes more than ${MAX_MS} ms to expand`);
  if (depth > MAX_DEPTH) tooBig(ctx, at, `it nests deeper than ${MAX_DEPTH} levels`);
  if (schema === true || schema === undefined || schema === null) return {};
  if (typeof schema !== "object") return null;
  const s = schema as Schema;
  if (typeof s.$ref === "string") return example(cachedRef(ctx, s.$ref), ctx, depth + 1, s.$ref);
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  if ("default" in s) return s.default;
  if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
  for (const key of ["anyOf", "oneOf"] as const) {
    const options = s[key];
    if (Array.isArray(options) && options.length) {
      const nonNull = options.find((o) => (o as Schema)?.type !== "null") ?? options[0];
      return example(nonNull, ctx, depth + 1, `${at}/${key}/${options.indexOf(nonNull)}`);
    }
  }
  if (Array.isArray(s.allOf))
    return example(mergeAll(s.allOf as Schema[], ctx.root), ctx, depth + 1, `${at}/allOf`);
  const type = Array.isArray(s.type) ? (s.type.find((t) => t !== "null") ?? s.type[0]) : s.type;
  switch (type ?? (s.properties ? "object" : undefined)) {
    case "object":
      return exampleObject(s, ctx, depth, at);
    case "array":
      return exampleArray(s, ctx, depth, at);
    case "string":
      return exampleString(s, ctx, at);
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

function exampleObject(s: Schema, ctx: Ctx, depth: number, at: string): Record<string, unknown> {
  const props = (s.properties ?? {}) as Record<string, unknown>;
  const required = Array.isArray(s.required) ? (s.required as string[]) : [];
  const out: Record<string, unknown> = {};
  let count = 0;
  for (const name of required) {
    if (typeof name !== "string" || Object.hasOwn(out, name)) continue;
    put(out, name, example(props[name] ?? {}, ctx, depth + 1, `${at}/properties/${name}`));
    count++;
  }
  const min = typeof s.minProperties === "number" ? s.minProperties : 0;
  for (const name of Object.keys(props)) {
    if (count >= min) break;
    if (Object.hasOwn(out, name)) continue;
    put(out, name, example(props[name], ctx, depth + 1, `${at}/properties/${name}`));
    count++;
  }
  return out;
}

function exampleArray(s: Schema, ctx: Ctx, depth: number, at: string): unknown[] {
  const min = typeof s.minItems === "number" ? s.minItems : 0;
  const prefix = Array.isArray(s.prefixItems) ? (s.prefixItems as unknown[]) : [];
  spend(ctx, Math.max(min, prefix.length), at);
  const out: unknown[] = prefix.map((p, i) => example(p, ctx, depth + 1, `${at}/prefixItems/${i}`));
  while (out.length < min) out.push(example(s.items ?? {}, ctx, depth + 1, `${at}/items`));
  return out;
}

function exampleString(s: Schema, ctx: Ctx, at: string): string {
  const format = s.format;
  if (format === "date-time") return "2025-01-01T00:00:00Z";
  if (format === "date") return "2025-01-01";
  if (format === "email") return "mock@example.com";
  if (format === "uri" || format === "url") return "https://example.com/";
  if (format === "uuid") return "00000000-0000-4000-8000-000000000000";
  const min = typeof s.minLength === "number" ? s.minLength : 0;
  const max = typeof s.maxLength === "number" ? s.maxLength : Number.POSITIVE_INFINITY;
  const chars = [...ctx.text.slice(0, Math.min(max, MAX_EXAMPLE_SIZE) * 2)].slice(0, max);
  spend(ctx, Math.max(min, chars.length), at);
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

/** Sets a property even when it is named `__proto__`. */
function put(out: Record<string, unknown>, name: string, value: unknown): void {
  if (name === "__proto__")
    Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  else out[name] = value;
}

function cachedRef(ctx: Ctx, ref: string): unknown {
  let node = ctx.refs.get(ref);
  if (node === undefined) {
    node = resolveRef(ctx.root, ref);
    ctx.refs.set(ref, node);
  }
  return node;
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
