import { Ajv, type ValidateFunction } from "ajv";
import { jsonrepair } from "jsonrepair";
import { describeErrors } from "../../protocol/index.ts";

export type ToolInputCheck =
  | { ok: true; input: Record<string, unknown>; repaired: boolean }
  | { ok: false; reason: string };

/** Schemas larger than this are not compiled (bounded work); the input only has to be an object. */
const MAX_SCHEMA_CHARS = 64 * 1024;
/** Arguments longer than this are not repaired (jsonrepair is linear, but keep the bound explicit). */
const MAX_REPAIR_CHARS = 1024 * 1024;

const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false });
const compiled = new Map<string, ValidateFunction | null>();
const MAX_CACHED = 256;

/**
 * Reads a tool call's argument text the way a client needs it: a JSON object valid against the
 * tool's `input_schema`. Broken JSON (cut off, single quotes, trailing commas, Python literals)
 * is repaired first when it can be; anything still wrong is reported, never passed on.
 */
export function checkToolInput(raw: string, schema: unknown): ToolInputCheck {
  const parsed = parseArguments(raw);
  if (!parsed.ok) return parsed;
  const { input, repaired } = parsed;
  if (input === null || typeof input !== "object" || Array.isArray(input))
    return { ok: false, reason: `the arguments are ${describeKind(input)}, not a JSON object` };
  const validate = validatorFor(schema);
  if (validate && !validate(input))
    return {
      ok: false,
      reason: `the arguments do not match input_schema (${describeErrors(validate.errors ?? [])})`,
    };
  return { ok: true, input: input as Record<string, unknown>, repaired };
}

function parseArguments(
  raw: string,
): { ok: true; input: unknown; repaired: boolean } | { ok: false; reason: string } {
  if (raw.trim() === "") return { ok: true, input: {}, repaired: false };
  try {
    return { ok: true, input: JSON.parse(raw), repaired: false };
  } catch {
    // try to repair below
  }
  if (raw.length > MAX_REPAIR_CHARS) return { ok: false, reason: "the arguments are not valid JSON" };
  try {
    return { ok: true, input: JSON.parse(jsonrepair(raw)), repaired: true };
  } catch {
    return { ok: false, reason: "the arguments are not valid JSON and could not be repaired" };
  }
}

function validatorFor(schema: unknown): ValidateFunction | null {
  if (!schema || typeof schema !== "object") return null;
  const key = JSON.stringify(schema);
  if (key.length > MAX_SCHEMA_CHARS) return null;
  if (compiled.has(key)) return compiled.get(key) ?? null;
  let validate: ValidateFunction | null;
  try {
    validate = ajv.compile(schema as object);
    ajv.removeSchema(schema as object); // a client's `$id` must not clash with the next request's
  } catch {
    validate = null; // a schema Ajv cannot compile: only the object shape is checked
  }
  if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value as string);
  compiled.set(key, validate);
  return validate;
}

const describeKind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : `a ${typeof v}`);
