import { Agent } from "undici";
import { ApiError } from "../../protocol/index.ts";
import type { CircuitBreaker } from "./breaker.ts";
import { type FailureKind, parseRetryAfter, UpstreamFailure, upstreamErrorText } from "./errors.ts";
import { UpstreamReceiver } from "./receiver.ts";

export interface Timeouts {
  /** TCP (and TLS) connect. */
  connectMs: number;
  /** From sending the request to the status line, and for streams to the first body chunk. */
  firstByteMs: number;
  /** Longest silence between two body chunks once the reply started. */
  idleMs: number;
}

export interface UpstreamCall {
  method: "GET" | "POST";
  /** Path under the base URL (`/chat/completions`), or from the origin when `fromOrigin`. */
  path: string;
  fromOrigin?: boolean;
  headers: Record<string, string>;
  body?: string;
  /** Commit only once the first body chunk arrived (streams); otherwise on a 2xx status line. */
  awaitFirstChunk: boolean;
  /** Non-2xx statuses the caller reads itself instead of failing over (e.g. 404 from an optional endpoint). */
  acceptStatus?: (status: number) => boolean;
}

export type Outcome = "ok" | "failed" | "cancelled";

/** A committed 2xx reply: from here on nothing is retried. */
export interface UpstreamReply {
  upstream: Upstream;
  status: number;
  headers: Record<string, string>;
  /** The body, first chunk included; an idle gap longer than `idleMs` ends it with an UpstreamFailure. */
  body: AsyncIterable<Uint8Array>;
  /** Settles the exchange (idempotent): frees the slot and tells the breaker. */
  finish(outcome: Outcome): void;
}

const MAX_ERROR_BODY = 64 * 1024;

export const clientClosed = () => new ApiError(499, "api_error", "Client closed the request");

/** One base URL: its connection pool, in-flight count, breaker and health. */
export class Upstream {
  readonly origin: string;
  readonly basePath: string;
  /** The server's root under any proxy prefix: the base path without a trailing `/v1`. */
  readonly rootPath: string;
  /** The URL without credentials or query, safe for logs. */
  readonly label: string;
  readonly breaker: CircuitBreaker;
  outstanding = 0;
  healthy = true;
  private readonly agent: Agent;
  private readonly timeouts: Timeouts;

  constructor(baseUrl: string, timeouts: Timeouts, breaker: CircuitBreaker) {
    const url = new URL(baseUrl);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, "");
    this.rootPath = this.basePath.replace(/\/v1$/, "");
    this.label = this.origin + this.basePath;
    this.timeouts = timeouts;
    this.breaker = breaker;
    this.agent = new Agent({
      connect: { timeout: timeouts.connectMs },
      keepAliveTimeout: 10_000,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  pathFor(call: Pick<UpstreamCall, "path" | "fromOrigin">): string {
    return call.fromOrigin ? call.path : this.basePath + call.path;
  }

  /**
   * Sends one request. Resolves once committed (2xx, and for streams the first chunk read);
   * throws an UpstreamFailure for anything else, after telling the breaker.
   */
  async open(call: UpstreamCall, clientSignal: AbortSignal): Promise<UpstreamReply> {
    if (clientSignal.aborted) throw clientClosed();
    const attempt = new Attempt(clientSignal, this.timeouts.firstByteMs);
    this.outstanding++;
    this.breaker.onAttempt();
    let settled = false;
    const body = { complete: false };
    const finish = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      if (!body.complete) attempt.abort();
      attempt.dispose();
      this.outstanding--;
      if (outcome === "ok") this.breaker.onSuccess();
      else if (outcome === "failed") this.breaker.onFailure();
      else this.breaker.onCancel();
    };
    try {
      const it = attempt.receiver;
      this.agent.dispatch(
        {
          origin: this.origin,
          path: this.pathFor(call),
          method: call.method,
          headers: call.headers,
          body: call.body,
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        it,
      );
      const res = await it.head;
      const headers = flatHeaders(res.headers);
      const accepted = call.acceptStatus?.(res.status) === true;
      if (!accepted && (res.status < 200 || res.status >= 300)) {
        body.complete = true;
        const text = await readLimited(it, MAX_ERROR_BODY);
        throw this.statusFailure(res.status, headers, text, finish);
      }
      let first: IteratorResult<Uint8Array> | undefined;
      if (call.awaitFirstChunk) {
        first = await it.next();
        if (first.done) throw new UpstreamFailure("network", "the upstream ended the stream before any data");
      }
      attempt.rearm("idle_timeout", this.timeouts.idleMs);
      return {
        upstream: this,
        status: res.status,
        headers,
        body: timedBody(it, first, attempt, this.timeouts.idleMs, finish, body),
        finish,
      };
    } catch (err) {
      const failure = attempt.classify(err);
      if (failure instanceof UpstreamFailure) {
        if (failure.kind !== "status") finish("failed");
      } else finish("cancelled");
      throw failure;
    }
  }

  /** A health probe: true when the upstream answers below 500 (and not 429) in time. */
  async probe(call: UpstreamCall, timeoutMs: number): Promise<boolean> {
    try {
      const res = await this.agent.request({
        origin: this.origin,
        path: this.pathFor(call),
        method: call.method,
        headers: call.headers,
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      await res.body.dump();
      return res.statusCode < 500 && res.statusCode !== 429;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private statusFailure(
    status: number,
    headers: Record<string, string>,
    text: string,
    finish: (o: Outcome) => void,
  ): UpstreamFailure {
    const failure = new UpstreamFailure("status", `upstream answered ${status}`, {
      status,
      retryAfterMs: parseRetryAfter(headers),
      upstreamMessage: upstreamErrorText(text),
    });
    if (failure.retryable) {
      finish("cancelled");
      this.breaker.onFailure(failure.retryAfterMs ?? 0);
    } else finish("ok");
    return failure;
  }
}

/** The timers of one attempt and what ends its exchange; remembers why it aborted. */
class Attempt {
  readonly receiver = new UpstreamReceiver();
  /** One timer for the whole attempt, refreshed per body chunk rather than cleared and made anew. */
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private kind: FailureKind = "first_byte_timeout";
  private disposed = false;
  private timedOut: FailureKind | undefined;
  private readonly client: AbortSignal;
  private readonly onClientAbort = () => this.receiver.abort(clientClosed());
  private readonly onTimeout = () => {
    this.timedOut = this.kind;
    this.receiver.abort(
      new UpstreamFailure(this.kind, `${this.kind.replace("_", " ")} after ${this.timerMs} ms`),
    );
  };

  constructor(client: AbortSignal, firstByteMs: number) {
    this.client = client;
    client.addEventListener("abort", this.onClientAbort, { once: true });
    this.rearm("first_byte_timeout", firstByteMs);
  }

  rearm(kind: FailureKind, ms: number): void {
    // Disposed, or already fired: a refresh would arm it again.
    if (this.disposed || this.timedOut) return;
    this.kind = kind;
    if (this.timer && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    clearTimeout(this.timer);
    this.timerMs = ms;
    this.timer = setTimeout(this.onTimeout, ms);
  }

  abort(): void {
    this.receiver.abort(clientClosed());
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.timer);
    this.client.removeEventListener("abort", this.onClientAbort);
  }

  /** The failure behind a thrown error: ours (timeouts), the client's (abort) or the network's. */
  classify(err: unknown): UpstreamFailure | ApiError {
    if (err instanceof UpstreamFailure) return err;
    if (this.timedOut) return new UpstreamFailure(this.timedOut, `${this.timedOut} (${describe(err)})`);
    if (this.client.aborted) return clientClosed();
    const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
    if (code === "UND_ERR_CONNECT_TIMEOUT") return new UpstreamFailure("connect_timeout", describe(err));
    if (code && /^(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)$/.test(code))
      return new UpstreamFailure("connect", describe(err));
    return new UpstreamFailure("network", describe(err));
  }
}

const describe = (err: unknown) =>
  err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err);

async function* timedBody(
  it: AsyncIterator<Uint8Array>,
  first: IteratorResult<Uint8Array> | undefined,
  attempt: Attempt,
  idleMs: number,
  finish: (o: Outcome) => void,
  body: { complete: boolean },
): AsyncGenerator<Uint8Array> {
  let outcome: Outcome = "cancelled";
  try {
    if (first && !first.done) yield first.value;
    for (;;) {
      attempt.rearm("idle_timeout", idleMs);
      const next = await it.next().catch((err: unknown) => {
        throw attempt.classify(err);
      });
      if (next.done) break;
      yield next.value;
    }
    body.complete = true;
    outcome = "ok";
  } catch (err) {
    outcome = err instanceof UpstreamFailure ? "failed" : "cancelled";
    throw err;
  } finally {
    if (outcome !== "ok") await it.return?.().catch(() => {});
    finish(outcome);
  }
}

function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

async function readLimited(body: AsyncIterable<Uint8Array>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    if (size < limit) chunks.push(Buffer.from(c));
    size += c.length;
  }
  return Buffer.concat(chunks).toString("utf8").slice(0, limit);
}

/** Reads a whole committed body as text (non-streaming replies). */
export async function readAll(reply: UpstreamReply): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of reply.body) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString("utf8");
}
