import type { Message, StreamEvent } from "../protocol/index.ts";

/** Watches a reply's events for what the usage record needs: tokens and time to first token. */
export class UsageTally {
  input_tokens = 0;
  output_tokens = 0;
  cache_creation_input_tokens = 0;
  cache_read_input_tokens = 0;
  firstDeltaAt: number | undefined;
  errorType: string | null = null;

  observe(event: StreamEvent): void {
    if (event.type === "message_start") this.fromUsage(event.message.usage);
    else if (event.type === "message_delta") this.fromUsage(event.usage);
    else if (event.type === "content_block_delta") this.firstDeltaAt ??= performance.now();
    else if (event.type === "error") this.errorType = event.error.type;
  }

  observeMessage(message: Message): void {
    this.fromUsage(message.usage);
  }

  fromUsage(u: Partial<Record<keyof UsageTally & string, unknown>>): void {
    for (const k of [
      "input_tokens",
      "output_tokens",
      "cache_creation_input_tokens",
      "cache_read_input_tokens",
    ] as const) {
      const v = u[k];
      if (typeof v === "number") this[k] = v;
    }
  }
}
