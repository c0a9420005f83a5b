import { deltaTokens, type Message, type StreamEvent } from "../protocol/index.ts";

/** Status of a usage row whose reply was cut short by the client leaving (nginx's "client closed"). */
export const CLIENT_CLOSED_STATUS = 499;

type UsageFields =
  | "input_tokens"
  | "output_tokens"
  | "cache_creation_input_tokens"
  | "cache_read_input_tokens";
const FIELDS: readonly UsageFields[] = [
  "input_tokens",
  "output_tokens",
  "cache_creation_input_tokens",
  "cache_read_input_tokens",
];

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

  get output_tokens(): number {
    return this.finalUsage ? this.reportedOutput : Math.max(this.reportedOutput, this.generated);
  }

  set output_tokens(n: number) {
    this.reportedOutput = n;
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
  fromUsage(u: Partial<Record<UsageFields | "cut_short", unknown>>): void {
    for (const k of FIELDS) {
      const v = u[k];
      if (typeof v === "number") this[k] = v;
    }
    if (u.cut_short === true) this.cutShort = true;
  }
}
