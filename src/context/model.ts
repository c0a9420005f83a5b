import type { StreamOptions } from "../providers/index.ts";
import type { ModelEntry } from "../router/index.ts";
import type { ContextModel } from "./manage.ts";

/** The serving entry as context management sees it: its config, its tokenizer, its summariser. */
export function contextModelOf(entry: ModelEntry, options: StreamOptions): ContextModel {
  const compactor = entry.compactor ?? entry;
  return {
    config: entry.config,
    count: (request) => entry.provider.countTokens(request, options),
    summariser: {
      model: compactor.config.id,
      window: compactor.config.context_window,
      maxOutputTokens: compactor.config.max_output_tokens,
      count: (request) => compactor.provider.countTokens(request, options),
      stream: (request) => compactor.provider.stream(request, options),
    },
  };
}
