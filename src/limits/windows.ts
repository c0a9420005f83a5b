import type { KeyLimits, Principal } from "../auth/index.ts";

/** What a limit counts. `tokens` is input + output per minute; `monthly` is input + output per UTC month. */
export type Dimension = "requests" | "input" | "output" | "tokens" | "monthly";

export const TOKEN_DIMENSIONS = ["input", "output", "tokens", "monthly"] as const;

/** Which `KeyLimits` field limits each dimension. */
export const LIMIT_FIELD: Record<Dimension, keyof KeyLimits> = {
  requests: "rpm",
  input: "input_tpm",
  output: "output_tpm",
  tokens: "tpm",
  monthly: "monthly_tokens",
};

/** Whose limit it is: a key's own, or its workspace's (shared by all the workspace's keys). */
export interface Scope {
  kind: "key" | "workspace";
  id: string;
  limits: KeyLimits;
}

export function scopesOf(principal: Principal): Scope[] {
  const scopes: Scope[] = [{ kind: "key", id: principal.keyId, limits: principal.limits }];
  if (principal.workspaceId && principal.workspaceLimits) {
    scopes.push({ kind: "workspace", id: principal.workspaceId, limits: principal.workspaceLimits });
  }
  return scopes.filter((s) => Object.values(s.limits).some((v) => v !== undefined));
}

export const limitOf = (scope: Scope, dim: Dimension): number | undefined => scope.limits[LIMIT_FIELD[dim]];

/** The counter's name for a scope in the current window (monthly counters are named by their month). */
export function counterKey(scope: Scope, dim: Dimension, now: Date): string {
  const base = `${scope.kind}:${scope.id}`;
  return dim === "monthly" ? `${base}:${now.getUTCFullYear()}-${now.getUTCMonth() + 1}` : base;
}

export const startOfMonth = (now: Date) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
export const startOfNextMonth = (now: Date) =>
  new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));

/** A limit as it stands: what the headers report and what admission decides on. */
export interface LimitStatus {
  dim: Dimension;
  scope: Scope;
  limit: number;
  used: number;
  /** When the window fully replenishes (epoch ms). */
  resetAt: number;
}

export const remaining = (s: LimitStatus) => Math.max(0, s.limit - s.used);
