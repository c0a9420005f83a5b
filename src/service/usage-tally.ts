import { deltaTokens, type Message, type StreamEvent } from "../protocol/index.ts";

/** Status of a usage row whose reply was cut short by the client leaving (nginx's "client closed"). */
export const CLIENT_CLOSED_STATUS = 499;

type UsageFields =
  | "input_tokens"
  | "output_tokens"
  | "cache_creation_input_tokens"
  | "cache_read_input_tokens";

/**
 * Watches a reply's events for what the usage record and the limits need: tokens and time to
 * first token. Output tokens count what was generated, not what was acknowledged: until the
 * final `message_delta` reports the exact figure, every content delta is counted as it passes
 * (one token per text or thinking delta, which is what the mock, llama.cpp and OpenAI-style
 * servers send; about four characters per token of tool input), so a reply that ends early
 * (client gone, error, abort) is still charged for what it produced.
 */
export class UsageTally {
  input_tokens = 0;
  cache_creation_input_tokens = 0;
  cache_read_input_tokens = 0;
  firstDeltaAt: number | undefined;
  errorType: string | null = null;
  /** The reply ended before its `message_stop` because the client left. */
  cutShort = false;
  private reportedOutput = 0;
  private finalUsage = false;
  private generated = 0;
  /** Tokens of compaction passes (`usage.iterations`), which the top-level usage leaves out. */
  private compaction = { input: 0, output: 0 };

  get output_tokens(): number {
    return this.finalUsage ? this.reportedOutput : Math.max(this.reportedOutput, this.generated);
  }

  set output_tokens(n: number) {
    this.reportedOutput = n;
  }

  /**
   * What the request cost, for the usage record and the limits: the reply's usage plus its
   * compaction passes. The hosted API leaves those out of the top-level figures and bills them
   * through `usage.iterations`, so the record adds them back.
   */
  billed(): Record<UsageFields, number> {
    return {
      input_tokens: this.input_tokens + this.compaction.input,
      output_tokens: this.output_tokens + this.compaction.output,
      cache_creation_input_tokens: this.cache_creation_input_tokens,
      cache_read_input_tokens: this.cache_read_input_tokens,
    };
  }

  /** The status for the usage record: 499 when the client left mid-reply, else the reply's own. */
  statusFor(status: number): number {
    return this.cutShort ? CLIENT_CLOSED_STATUS : status;
  }

  observe(event: StreamEvent): void {
    switch (event.type) {
      case "message_start":
        this.fromUsage(event.message.usage);
        break;
      case "message_delta":
        this.fromUsage(event.usage);
        this.finalUsage = true;
        break;
      case "content_block_delta":
        this.firstDeltaAt ??= performance.now();
        this.generated += deltaTokens(event.delta);
        break;
      case "error":
        this.errorType = event.error.type;
        break;
      default:
        break;
    }
  }

  observeMessage(message: Message): void {
    this.fromUsage(message.usage);
    this.finalUsage = true;
  }

  /** Usage as reported (an upstream's, a relay's); `cut_short` marks a relay the client left. */
  fromUsage(u: Partial<Record<UsageFields | "cut_short" | "iterations", unknown>>): void {
    // Each field by name: a loop over the names reads and writes through V8's megamorphic keyed
    // access (and `output_tokens` through its setter), on two or three calls a request.
    const { input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens } = u;
    if (typeof input_tokens === "number") this.input_tokens = input_tokens;
    if (typeof output_tokens === "number") this.reportedOutput = output_tokens;
    if (typeof cache_creation_input_tokens === "number")
      this.cache_creation_input_tokens = cache_creation_input_tokens;
    if (typeof cache_read_input_tokens === "number") this.cache_read_input_tokens = cache_read_input_tokens;
    if (u.cut_short === true) this.cutShort = true;
    if (Array.isArray(u.iterations)) this.compaction = compactionTokens(u.iterations);
  }
}

/** The summed tokens of the `compaction` entries of `usage.iterations` (the same array may be seen twice). */
function compactionTokens(iterations: unknown[]): { input: number; output: number } {
  let input = 0;
  let output = 0;
  for (const it of iterations) {
    const i = it as { type?: unknown; input_tokens?: unknown; output_tokens?: unknown };
    if (i?.type !== "compaction") continue;
    if (typeof i.input_tokens === "number") input += i.input_tokens;
    if (typeof i.output_tokens === "number") output += i.output_tokens;
  }
  return { input, output };
}
