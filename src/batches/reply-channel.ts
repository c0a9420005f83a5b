import type { RelayedReply } from "../providers/index.ts";
import type { ReplyChannel, UsageTally } from "../service/index.ts";
import type { EndedState } from "./repository.ts";

export interface BatchChannel extends ReplyChannel {
  /** The result line of a relayed reply: the upstream's Message, or its error envelope. */
  result(status: number, requestId: string): { state: EndedState; result: object };
}

/**
 * How a batch request receives what is not a folded Message: an Anthropic upstream relays its
 * JSON bytes, which are collected and parsed here. Batch requests never stream.
 */
export function relayedChannel(): BatchChannel {
  let body = "";
  return {
    async sendEvents() {
      throw new Error("batch requests do not stream");
    },
    async sendRelayed(relayed: RelayedReply, tally: UsageTally) {
      const decoder = new TextDecoder();
      for await (const chunk of relayed.body) body += decoder.decode(chunk, { stream: true });
      body += decoder.decode();
      const usage = await relayed.usage;
      if (usage) tally.fromUsage(usage);
    },
    result(status, requestId) {
      let parsed: Record<string, unknown> | undefined;
      try {
        parsed = JSON.parse(body) as Record<string, unknown>;
      } catch {
        parsed = undefined;
      }
      if (status < 300 && parsed?.type === "message") {
        const usage = (parsed.usage ?? {}) as Record<string, unknown>;
        parsed.usage = { ...usage, service_tier: "batch" };
        return { state: "succeeded", result: { type: "succeeded", message: parsed } };
      }
      const error =
        parsed?.type === "error" && parsed.error
          ? { ...parsed, request_id: parsed.request_id ?? requestId }
          : {
              type: "error",
              error: { type: "api_error", message: `Upstream answered ${status}` },
              request_id: requestId,
            };
      return { state: "errored", result: { type: "errored", error } };
    },
  };
}
