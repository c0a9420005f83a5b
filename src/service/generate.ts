import { contextModelOf, manageContext } from "../context/index.ts";
import type { MessageRequest, StreamEvent } from "../protocol/index.ts";
import type { StreamOptions } from "../providers/index.ts";
import type { ModelEntry } from "../router/index.ts";
import { type ServerToolScope, withServerTools } from "../tools/index.ts";

/**
 * The model's reply as Anthropic events. This is the one place where request-level features
 * that every backend shares wrap the provider's stream (context edits before it, server-side
 * tool loops around it), so no provider has to know about them.
 */
export function generate(
  entry: ModelEntry,
  request: MessageRequest,
  options: StreamOptions,
  scope: ServerToolScope,
): AsyncIterable<StreamEvent> {
  // Context edits first: the tool loop and the provider see the edited prompt. An Anthropic
  // upstream runs both itself, so its fields pass through untouched.
  return manageContext(contextModelOf(entry, options), request, (edited) =>
    entry.config.provider === "anthropic"
      ? entry.provider.stream(edited, options)
      : withServerTools(entry.provider, edited, options, scope),
  );
}
