import { contextModelOf, manageContext } from "../context/index.ts";
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
  // Context edits first: the provider (and any loop around it) sees the edited prompt.
  return manageContext(contextModelOf(entry, options), request, (edited) =>
    entry.provider.stream(edited, options),
  );
}
