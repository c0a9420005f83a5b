import type { KeyLimits } from "../auth/index.ts";

type Count = number | string | bigint | null;

export interface LimitColumns {
  rpm: Count;
  tpm: Count;
  input_tpm: Count;
  output_tpm: Count;
  monthly_tokens: Count;
}

export const LIMIT_NAMES = ["rpm", "tpm", "input_tpm", "output_tpm", "monthly_tokens"] as const;

/** Limits as stored (nullable columns) to limits as the auth layer reads them (absent = unlimited). */
export function limitsFromRow(row: LimitColumns): KeyLimits {
  const limits: KeyLimits = {};
  for (const name of LIMIT_NAMES) {
    const v = row[name];
    if (v !== null && v !== undefined) limits[name] = Number(v);
  }
  return limits;
}

export function limitsToRow(
  limits: KeyLimits | undefined,
): Record<(typeof LIMIT_NAMES)[number], number | null> {
  return {
    rpm: limits?.rpm ?? null,
    tpm: limits?.tpm ?? null,
    input_tpm: limits?.input_tpm ?? null,
    output_tpm: limits?.output_tpm ?? null,
    monthly_tokens: limits?.monthly_tokens ?? null,
  };
}
