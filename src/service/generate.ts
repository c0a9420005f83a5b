import type { MessageRequest, StreamEvent } from "../protocol/index.ts";
import type { StreamOptions } from "../providers/index.ts";
import type { ModelEntry } from "../router/index.ts";

/**
 * The model's reply as Anthropic events. This is the one place where request-level features
 * that every backend shares wrap the provider's stream (context edits before it, server-side
 * tool loops around it), so no provider has to know about them.
 */
export function generate(
  entry: ModelEntry,
  request: MessageRequest,
  options: StreamOptions,
): AsyncIterable<StreamEvent> {
  return entry.provider.stream(request, options);
}
