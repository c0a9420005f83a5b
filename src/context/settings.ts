import type { ModelConfig } from "../config/index.ts";

/** A model entry's context-management defaults, resolved to tokens. */
export interface ContextSettings {
  /** The model's context window, when the config states it. */
  window?: number;
  /** Replaces a request's input-token trigger that is larger than the window. */
  trigger?: number;
  /** Replaces a request's `clear_at_least` that is larger than the window; also the step of overflow clearing. */
  clearAtLeast?: number;
  /** Clear the oldest tool results when the prompt would not fit, instead of a 400. */
  clearOnOverflow: boolean;
  /** Output tokens the model may write when the config caps them. */
  maxOutputTokens?: number;
}

/** Tokens from a number or a share of the window ("85%"). */
export function resolveAmount(amount: number | string, window: number | undefined): number {
  if (typeof amount === "number") return amount;
  if (window === undefined) throw new Error(`"${amount}" needs the model's context_window`);
  return Math.max(1, Math.floor((window * Number.parseFloat(amount)) / 100));
}

export function contextSettings(config: ModelConfig): ContextSettings {
  const cm = config.context_management;
  const window = config.context_window;
  return {
    window,
    trigger: cm?.trigger === undefined ? undefined : resolveAmount(cm.trigger, window),
    clearAtLeast: cm?.clear_at_least === undefined ? undefined : resolveAmount(cm.clear_at_least, window),
    clearOnOverflow: cm?.clear_tool_uses_on_overflow ?? false,
    maxOutputTokens: config.max_output_tokens,
  };
}

/**
 * The most a prompt may hold and still leave room for the reply: the window minus `max_tokens`,
 * capped as the llama backend caps it (the config's `max_output_tokens`, else half the window).
 */
export function promptLimit(settings: ContextSettings, maxTokens: number): number | undefined {
  if (settings.window === undefined) return undefined;
  const cap = settings.maxOutputTokens ?? Math.floor(settings.window / 2);
  return settings.window - Math.min(maxTokens, cap);
}
