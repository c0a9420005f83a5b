import type { Llama } from "node-llama-cpp";
import type { LlamaModelConfig } from "../../config/index.ts";
import {
  ApiError,
  invalidRequest,
  type MessageRequest,
  modelUnavailable,
  type StreamEvent,
} from "../../protocol/index.ts";
import type { Provider, ProviderDeps, ProviderStatus, StreamOptions } from "../provider.ts";
import { dropClaudeCodeBilling } from "./billing.ts";
import { generationFailure, runGeneration } from "./generate.ts";
import { toGrammarSchema } from "./json-schema.ts";
import { type LoadedModel, loadModel } from "./loaded-model.ts";
import { type Prompt, renderPrompt } from "./prompt.ts";
import { type LlamaSettings, llamaSettings } from "./settings.ts";

export interface LlamaProviderOptions {
  /** PARLEY_MODELS_DIR: a folder searched for model files first. */
  modelsDir?: string;
}

/**
 * `provider: llama`: a GGUF model served in-process by node-llama-cpp. Loads at start
 * (`load: eager`) or on first use (`load: lazy`); a model that cannot be had leaves the
 * server running and answers with an api_error that names the cause and the fix.
 */
export class LlamaProvider implements Provider {
  readonly kind = "llama";
  readonly settings: LlamaSettings;
  private readonly deps: ProviderDeps;
  private readonly modelsDir: string | undefined;
  private loading: Promise<LoadedModel> | undefined;
  private loaded: LoadedModel | undefined;
  private readonly retry = new LoadRetry();
  private readonly closing = new AbortController();
  /** Prompt tokens since start whose KV state a slot already held, and those evaluated afresh. */
  private readonly kv = { reused_tokens: 0, evaluated_tokens: 0 };

  constructor(config: LlamaModelConfig, deps: ProviderDeps, options: LlamaProviderOptions = {}) {
    this.settings = llamaSettings(config);
    this.deps = deps;
    this.modelsDir = options.modelsDir;
  }

  status(): ProviderStatus {
    const kv = { ...this.kv };
    const failure = this.retry.failure;
    if (failure) return { available: false, reason: failure, load: this.loading ? "loading" : "failed", kv };
    const window = this.loaded?.contextSize;
    if (window)
      return {
        available: true,
        contextWindow: window,
        maxOutputTokens: this.outputCap(window),
        load: "loaded",
        kv,
      };
    return { available: true, load: this.loading ? "loading" : "not_loaded", kv };
  }

  /** Replies are capped at `max_output_tokens`, else half the window. */
  private outputCap(window: number): number {
    return this.settings.maxOutputTokens ?? Math.floor(window / 2);
  }

  async start(): Promise<void> {
    if (this.settings.load === "lazy") return;
    await this.model().catch(() => undefined); // the failure is logged and shown in status()
  }

  async close(): Promise<void> {
    this.closing.abort();
    const loaded = await this.loading?.catch(() => undefined);
    await loaded?.dispose();
  }

  /**
   * The loaded model, loading it once. After a failure, requests get the reason at once until the
   * back-off has passed; the next request then tries again, so a file put in place later or a
   * network that comes back makes the model work without a restart.
   */
  model(): Promise<LoadedModel> {
    if (this.loading) return this.loading;
    const failure = this.retry.failure;
    if (failure && !this.retry.due()) return Promise.reject(modelUnavailable(failure));
    this.loading = loadModel({
      settings: this.settings,
      dataDir: this.deps.dataDir,
      logger: this.deps.logger,
      modelsDir: this.modelsDir,
      signal: this.closing.signal,
    }).then(
      (m) => {
        if (this.retry.failure)
          this.deps.logger.info({ model: this.settings.id }, "llama model available again");
        this.retry.succeeded();
        this.loaded = m;
        return m;
      },
      (err: unknown) => {
        this.loading = undefined;
        const reason = `model ${this.settings.id} is unavailable: ${err instanceof Error ? err.message : String(err)}`;
        const { first, retryInMs } = this.retry.failed(reason);
        // Once when the model becomes unavailable (or the reason changes); each request logs its own line.
        if (first)
          this.deps.logger.warn(
            { model: this.settings.id, reason, retry_in_ms: retryInMs },
            "model unavailable",
          );
        else
          this.deps.logger.debug(
            { model: this.settings.id, reason, retry_in_ms: retryInMs },
            "model still unavailable",
          );
        throw modelUnavailable(reason);
      },
    );
    return this.loading;
  }

  async countTokens(req: MessageRequest): Promise<number> {
    const { prompt } = await this.prepare(req);
    return prompt.tokens.length;
  }

  async *stream(req: MessageRequest, { signal, sessionId }: StreamOptions): AsyncGenerator<StreamEvent> {
    const { loaded, prompt, request } = await this.prepare(req);
    const maxTokens = this.checkLength(request, prompt, loaded);
    const grammar =
      request.output_schema && !prompt.functions ? await this.grammar(loaded, request) : undefined;
    const lease = await loaded.pool.acquire(prompt.tokens, signal, sessionId);
    this.kv.reused_tokens += lease.reused;
    this.kv.evaluated_tokens += prompt.tokens.length - lease.reused;
    try {
      yield* runGeneration({
        req: request,
        prompt,
        lease,
        usage: promptUsage(request, prompt.tokens.length, lease.reused),
        maxTokens,
        temperature: this.settings.temperature,
        grammar,
        signer: this.deps.signer,
        signal,
      });
    } catch (err) {
      throw generationFailure(err, this.settings.id);
    } finally {
      lease.release();
    }
  }

  private async prepare(
    req: MessageRequest,
  ): Promise<{ loaded: LoadedModel; prompt: Prompt; request: MessageRequest }> {
    const loaded = await this.model();
    const request = this.settings.normalizeBilling ? dropClaudeCodeBilling(req) : req;
    return { loaded, request, prompt: renderPrompt(request, loaded.chatWrapper, loaded.tokenizer) };
  }

  /**
   * Clients hard-code max_tokens (Claude Code sends 64000), so without `max_output_tokens`
   * in the config a reply is capped at half the context window, as the router caps it when
   * the config sets one. The prompt plus that must still fit, or it is the hosted API's 400.
   */
  private checkLength(req: MessageRequest, prompt: Prompt, loaded: LoadedModel): number {
    if (req.max_tokens < 1) throw invalidRequest("max_tokens: must be greater than or equal to 1");
    const cap = this.outputCap(loaded.contextSize);
    const maxTokens = Math.min(req.max_tokens, cap);
    const window = loaded.contextSize;
    const input = prompt.tokens.length;
    if (input >= window) {
      // The hosted API's words: Claude Code recognises them and compacts instead of giving up.
      throw invalidRequest(
        `prompt is too long: ${input} tokens > ${window - 1} maximum (model ${this.settings.id} serves a ${window}-token window)`,
      );
    }
    if (input + maxTokens > window) {
      const asked = req.params.max_tokens;
      const clamped =
        asked === maxTokens
          ? `max_tokens ${asked}`
          : `max_tokens ${asked} requested, clamped to ${maxTokens} by the model's ${this.settings.maxOutputTokens ? "max_output_tokens" : "half-window output limit"}`;
      throw invalidRequest(
        `input length and \`max_tokens\` exceed context limit: ${input} + ${maxTokens} > ${window} (${clamped}), decrease input length or \`max_tokens\` and try again`,
      );
    }
    return maxTokens;
  }

  private async grammar(loaded: LoadedModel, req: MessageRequest) {
    try {
      const schema = toGrammarSchema(req.output_schema) as Parameters<Llama["createGrammarForJsonSchema"]>[0];
      return await loaded.model.llama.createGrammarForJsonSchema(schema);
    } catch (err) {
      if (err instanceof ApiError) throw invalidRequest(`output_config.format.schema: ${err.message}`);
      throw invalidRequest(
        `output_config.format.schema: cannot be turned into a grammar: ${(err as Error).message}`,
      );
    }
  }
}

/** Back-off between load attempts of a model that failed: 1 s, doubling, at most a minute. */
export class LoadRetry {
  failure: string | undefined;
  private attempts = 0;
  private nextAt = 0;
  private readonly now: () => number;
  private readonly firstDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(now = () => Date.now(), firstDelayMs = 1_000, maxDelayMs = 60_000) {
    this.now = now;
    this.firstDelayMs = firstDelayMs;
    this.maxDelayMs = maxDelayMs;
  }

  /** Whether the next load attempt may start now. */
  due(): boolean {
    return this.now() >= this.nextAt;
  }

  /** Records a failed attempt; `first` is true when the model was available before or the reason changed. */
  failed(reason: string): { first: boolean; retryInMs: number } {
    const first = this.failure !== reason;
    const retryInMs = Math.min(this.maxDelayMs, this.firstDelayMs * 2 ** this.attempts);
    this.attempts++;
    this.failure = reason;
    this.nextAt = this.now() + retryInMs;
    return { first, retryInMs };
  }

  succeeded(): void {
    this.failure = undefined;
    this.attempts = 0;
    this.nextAt = 0;
  }
}

/**
 * Prompt tokens split the hosted way: `cache_read_input_tokens` is what the slot already held,
 * and when the client marked a cache breakpoint the tokens evaluated now are reported as
 * written to the cache (the slot keeps them for the next turn); the rest is `input_tokens`.
 */
function promptUsage(req: MessageRequest, total: number, reused: number) {
  const fresh = total - reused;
  const marked = cacheMarked(req);
  return {
    input_tokens: marked ? 0 : fresh,
    cache_read_input_tokens: reused,
    cache_creation_input_tokens: marked ? fresh : 0,
  };
}

function cacheMarked(req: MessageRequest): boolean {
  const marked = (b: object) => Boolean((b as { cache_control?: unknown }).cache_control);
  return (
    Boolean(req.params.cache_control) ||
    req.system.some(marked) ||
    req.tools.some(marked) ||
    req.messages.some((t) => t.content.some(marked))
  );
}
