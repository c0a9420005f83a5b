import type { FastifyBaseLogger } from "fastify";
import { type Bindings, type ChildLoggerOptions, levels } from "pino";

type LevelName = "fatal" | "error" | "warn" | "info" | "debug" | "trace";

/** pino's own level numbers, and `silent` above them all (pino has no number for it). */
const LEVEL_VALUES: Record<string, number> = { ...levels.values, silent: Number.POSITIVE_INFINITY };

/**
 * The logger Fastify gives each request (its lines carry `reqId`). pino formats a child's
 * bindings as soon as the child is made, so with Fastify's default factory every request paid
 * for that even when nothing was logged (at `log_level: warn`, almost every request). This one
 * makes the pino child on the first line that passes the level, and never otherwise.
 */
export class RequestLogger implements FastifyBaseLogger {
  private made: FastifyBaseLogger | undefined;
  private readonly parent: FastifyBaseLogger;
  private readonly bindings: Bindings;
  private readonly options: ChildLoggerOptions;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.parent = parent;
    this.bindings = bindings;
    this.options = options;
  }

  get level(): string {
    return (this.made ?? this.parent).level;
  }

  set level(level: string) {
    this.real().level = level;
  }

  fatal(...args: unknown[]): void {
    this.write("fatal", args);
  }

  error(...args: unknown[]): void {
    this.write("error", args);
  }

  warn(...args: unknown[]): void {
    this.write("warn", args);
  }

  info(...args: unknown[]): void {
    this.write("info", args);
  }

  debug(...args: unknown[]): void {
    this.write("debug", args);
  }

  trace(...args: unknown[]): void {
    this.write("trace", args);
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real().child(bindings, options);
  }

  private write(level: LevelName, args: unknown[]): void {
    // A level this table does not know (a custom one of an embedder's logger) is left to pino.
    const threshold = LEVEL_VALUES[this.level];
    if (threshold !== undefined && LEVEL_VALUES[level] < threshold) return;
    (this.real()[level] as (...a: unknown[]) => void)(...args);
  }

  private real(): FastifyBaseLogger {
    this.made ??= this.parent.child(this.bindings, this.options);
    return this.made;
  }
}

/** Fastify's `childLoggerFactory`: a request's logger, made lazily. */
export function requestLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  return new RequestLogger(logger, bindings, options);
}
