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
  // An Anthropic upstream runs the MCP connector itself: its fields pass through untouched.
  if (entry.config.provider === "anthropic") return entry.provider.stream(request, options);
  return withServerTools(entry.provider, request, options, scope);
}
