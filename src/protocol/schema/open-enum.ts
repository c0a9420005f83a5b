import Type from "typebox";

/**
 * An enum-like string field that clients extend over time (`thinking.display` gained `updates`,
 * `output_config.effort` gained `xhigh` and `max`). Any string or null is accepted, so a newer
 * client is never refused for a value this server has not heard of; a wrong type is still a 400.
 * The known values are listed in the schema (and so in the OpenAPI document), and
 * `unknownEnumValues` reports the others so the server can log them.
 */
export function OpenEnum(known: readonly string[], description: string) {
  return Type.Union([Type.String(), Type.Null()], {
    description: `${description}: one of ${known.map((v) => `'${v}'`).join(", ")}; newer values are accepted`,
    "x-known-values": known,
  });
}

interface OpenEnumField {
  /** Where the field sits in the request body. */
  path: readonly string[];
  known: readonly string[];
}

export const THINKING_DISPLAY_VALUES = ["summarized", "omitted", "updates"] as const;
export const EFFORT_VALUES = ["low", "medium", "high", "xhigh", "max"] as const;

/** Every open enum in the create / count_tokens body. */
export const OPEN_ENUM_FIELDS: readonly OpenEnumField[] = [
  { path: ["thinking", "display"], known: THINKING_DISPLAY_VALUES },
  { path: ["output_config", "effort"], known: EFFORT_VALUES },
];

/** The open-enum fields of a validated body whose string value is not among the known ones. */
export function unknownEnumValues(body: unknown): { field: string; value: string }[] {
  const found: { field: string; value: string }[] = [];
  for (const { path, known } of OPEN_ENUM_FIELDS) {
    let value: unknown = body;
    for (const key of path) value = (value as Record<string, unknown> | null | undefined)?.[key];
    if (typeof value === "string" && !known.includes(value)) found.push({ field: path.join("."), value });
  }
  return found;
}
