import { setTimeout as sleep } from "node:timers/promises";

/** What `startServer` was doing when it failed; the CLI words the message from it (src/cli/startup-errors.ts). */
export type StartupStep = "data_dir" | "store" | "limits" | "listen";

/** Which service a step reaches, for messages: "PostgreSQL", "Redis", "SQLite". */
export type StartupService = "SQLite" | "PostgreSQL" | "Redis";

/** A start-up failure: the step, what it was working on (a path, an address), and the error itself. */
export class StartupFailure extends Error {
  readonly step: StartupStep;
  /** A path or `host:port`; never a URL with credentials. */
  readonly target: string;
  readonly service?: StartupService;
  /** Tries made before giving up (more than 1 only for services retried at start). */
  readonly attempts: number;

  constructor(
    step: StartupStep,
    target: string,
    cause: unknown,
    options: { service?: StartupService; attempts?: number } = {},
  ) {
    super(`${step} ${target}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "StartupFailure";
    this.step = step;
    this.target = target;
    this.service = options.service;
    this.attempts = options.attempts ?? 1;
  }
}

/** How a service that may still be coming up (PostgreSQL, Redis) is retried at start. */
export interface StartupRetry {
  attempts: number;
  /** Wait before the second try; doubled after each, up to 8 times this. */
  delayMs: number;
  /** Told before each wait: the failure so far, the try about to come (2…attempts), and the wait. */
  onRetry?: (failure: StartupFailure, next: number, attempts: number, delayMs: number) => void;
}

/** Runs one start-up step; any error comes out as a StartupFailure naming the step and target. */
export async function startupStep<T>(
  step: StartupStep,
  target: string,
  run: () => Promise<T>,
  service?: StartupService,
): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw err instanceof StartupFailure ? err : new StartupFailure(step, target, err, { service });
  }
}

/**
 * A step whose service may not be up yet: unreachable (refused, timed out, not resolvable, still
 * starting) is retried with a doubling wait; anything else (bad password, corrupt file) fails at once.
 */
export async function retriedStartupStep<T>(
  step: StartupStep,
  target: string,
  service: StartupService,
  retry: StartupRetry,
  run: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      const failure = new StartupFailure(step, target, err, { service, attempts: attempt });
      if (!isUnreachable(err) || attempt >= retry.attempts) throw failure;
      const delayMs = Math.min(retry.delayMs * 2 ** (attempt - 1), retry.delayMs * 8);
      retry.onRetry?.(failure, attempt + 1, retry.attempts, delayMs);
      await sleep(delayMs);
    }
  }
}

const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  // PostgreSQL: "the database system is starting up" / "shutting down" / "too many connections".
  "57P03",
  "57P01",
  "53300",
]);

/** The error's code, looking into `cause` and AggregateError (Node's happy-eyeballs connect). */
export function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    const inner = e instanceof AggregateError ? e.errors[0] : (e as { cause?: unknown }).cause;
    e = inner;
  }
  return undefined;
}

export function isUnreachable(err: unknown): boolean {
  const code = errorCode(err);
  if (code) return UNREACHABLE.has(code);
  // pg and ioredis word some connection losses without a code.
  return /Connection terminated|connection timeout|Connection is closed/i.test(
    String((err as Error)?.message),
  );
}

/** `host:port` of a URL, for messages: the credentials and query stay out. */
export function urlAddress(url: string, defaultPort: number): string {
  try {
    const u = new URL(url);
    return `${u.hostname || "localhost"}:${u.port || defaultPort}`;
  } catch {
    return "(unparsable URL)";
  }
}
