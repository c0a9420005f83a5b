import { Ajv, type ErrorObject, type Options, type ValidateFunction } from "ajv";
import type { TSchema } from "typebox";
import { invalidRequest } from "./errors.ts";

const common: Options = { discriminator: true, strict: false, allErrors: false, verbose: true };

/** Bodies are checked exactly as sent: no coercion, no defaults, unknown fields kept. */
const bodyAjv = new Ajv({ ...common, coerceTypes: false, useDefaults: false, removeAdditional: false });
/** Query strings and path params arrive as text, so numbers are coerced there only. */
const queryAjv = new Ajv({ ...common, coerceTypes: "array", useDefaults: true, removeAdditional: false });

export type Validator = (data: unknown) => { ok: true } | { ok: false; message: string };

export function compileValidator(schema: TSchema | object, part: "body" | "query" = "body"): Validator {
  const validate: ValidateFunction = (part === "body" ? bodyAjv : queryAjv).compile(schema);
  // V8 compiles generated code on its first call. The Messages body validator is ~850 KB of code,
  // ~80 ms to compile: done here, at start-up, instead of inside the first request (where it held
  // the event loop for every other client).
  validate(undefined);
  return (data) =>
    validate(data) ? { ok: true } : { ok: false, message: describeErrors(validate.errors ?? []) };
}

/** Throws a 400 that names the field, in the hosted API's words. */
export function assertValid(validator: Validator, data: unknown): void {
  const result = validator(data);
  if (!result.ok) throw invalidRequest(result.message);
}

const TYPE_NAMES: Record<string, string> = {
  integer: "integer",
  number: "number",
  string: "string",
  boolean: "boolean",
  array: "list",
  object: "dictionary",
  null: "null",
};

const WRAPPERS = new Set(["anyOf", "oneOf", "if", "then", "else", "allOf", "not"]);

function fieldPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split("/").slice(1).map(unescapePointer);
  if (extra !== undefined) parts.push(extra);
  return parts.length ? parts.join(".") : "body";
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, "/").replace(/~0/g, "~");
}

const depth = (e: ErrorObject) => e.instancePath.split("/").length + (e.keyword === "required" ? 1 : 0);

/** Picks the most specific error Ajv found and words it like the hosted API (pydantic style). */
export function describeErrors(errors: ErrorObject[]): string {
  const specific = errors.filter((e) => !WRAPPERS.has(e.keyword));
  if (specific.length === 0)
    return errors[0] ? `${fieldPath(errors[0].instancePath)}: Invalid input` : "Invalid request";
  const deepest = Math.max(...specific.map(depth));
  const atDeepest = specific.filter((e) => depth(e) === deepest);
  const first = atDeepest[0];
  const sameSpot = atDeepest.filter(
    (e) => e.instancePath === first.instancePath && e.keyword === first.keyword,
  );
  if (first.keyword === "type") {
    const names = sameSpot.map((e) => TYPE_NAMES[String(e.params.type)] ?? String(e.params.type));
    return `${fieldPath(first.instancePath)}: Input should be a valid ${joinOr(unique(names))}`;
  }
  if (first.keyword === "const" || first.keyword === "enum") {
    const values = sameSpot.flatMap((e) =>
      e.keyword === "const" ? [e.params.allowedValue] : (e.params.allowedValues as unknown[]),
    );
    return `${fieldPath(first.instancePath)}: Input should be ${joinOr(unique(values.map(quote)))}`;
  }
  return describeOne(first);
}

function describeOne(e: ErrorObject): string {
  const at = fieldPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required":
      return `${fieldPath(e.instancePath, String(p.missingProperty))}: Field required`;
    case "minimum":
      return `${at}: Input should be greater than or equal to ${p.limit}`;
    case "maximum":
      return `${at}: Input should be less than or equal to ${p.limit}`;
    case "exclusiveMinimum":
      return `${at}: Input should be greater than ${p.limit}`;
    case "exclusiveMaximum":
      return `${at}: Input should be less than ${p.limit}`;
    case "minLength":
      return `${at}: String should have at least ${p.limit} character${p.limit === 1 ? "" : "s"}`;
    case "maxLength":
      return `${at}: String should have at most ${p.limit} characters`;
    case "minItems":
      return `${at}: List should have at least ${p.limit} item${p.limit === 1 ? "" : "s"}`;
    case "maxItems":
      return `${at}: List should have at most ${p.limit} items`;
    case "pattern":
      return `${at}: String should match pattern '${p.pattern}'`;
    case "additionalProperties":
      return `${fieldPath(e.instancePath, String(p.additionalProperty))}: Extra inputs are not permitted`;
    case "discriminator":
      return describeTag(e);
    default:
      return `${at}: ${e.message ?? "Invalid input"}`;
  }
}

function describeTag(e: ErrorObject): string {
  const p = e.params as { error: string; tag: string; tagValue: unknown };
  const at = fieldPath(e.instancePath, p.tag);
  if (p.error === "tag")
    return p.tagValue === undefined ? `${at}: Field required` : `${at}: Input should be a valid string`;
  const variants = ((e.parentSchema as { oneOf?: { properties?: Record<string, { const?: unknown }> }[] })
    ?.oneOf ?? []) as { properties?: Record<string, { const?: unknown }> }[];
  const tags = variants.map((v) => v.properties?.[p.tag]?.const).filter((t) => t !== undefined);
  return `${at}: Input tag ${quote(p.tagValue)} found using '${p.tag}' does not match any of the expected tags: ${tags
    .map(quote)
    .join(", ")}`;
}

const quote = (v: unknown) => (typeof v === "string" ? `'${v}'` : JSON.stringify(v));
const unique = <T>(xs: T[]) => [...new Set(xs)];

function joinOr(items: string[]): string {
  if (items.length <= 1) return items[0] ?? "";
  return `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
}
