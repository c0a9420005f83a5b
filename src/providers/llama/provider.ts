import type { Llama } from "node-llama-cpp";
import type { LlamaModelConfig } from "../../config/index.ts";
import {
  ApiError,
  apiError,
  invalidRequest,
  type MessageRequest,
  type StreamEvent,
} from "../../protocol/index.ts";
import type { Provider, ProviderDeps, ProviderStatus, StreamOptions } from "../provider.ts";
import { dropClaudeCodeBilling } from "./billing.ts";
import { runGeneration } from "./generate.ts";
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
  private failure: string | undefined;
  private readonly closing = new AbortController();

  constructor(config: LlamaModelConfig, deps: ProviderDeps, options: LlamaProviderOptions = {}) {
    this.settings = llamaSettings(config);
    this.deps = deps;
    this.modelsDir = options.modelsDir;
  }

  status(): ProviderStatus {
    if (this.failure) return { available: false, reason: this.failure };
    return { available: true };
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

  /** The loaded model (loading it once; after a failure the next call tries again). */
  model(): Promise<LoadedModel> {
    if (!this.loading) {
      this.loading = loadModel({
        settings: this.settings,
        dataDir: this.deps.dataDir,
        logger: this.deps.logger,
        modelsDir: this.modelsDir,
        signal: this.closing.signal,
      }).then(
        (m) => {
          this.failure = undefined;
          return m;
        },
        (err: unknown) => {
          this.loading = undefined;
          this.failure = `model ${this.settings.id} is unavailable: ${err instanceof Error ? err.message : String(err)}`;
          this.deps.logger.error({ model: this.settings.id, err }, "llama model failed to load");
          throw apiError(this.failure);
        },
      );
    }
    return this.loading;
  }

  async countTokens(req: MessageRequest): Promise<number> {
    const { prompt } = await this.prepare(req);
    return prompt.tokens.length;
  }

  async *stream(req: MessageRequest, { signal }: StreamOptions): AsyncGenerator<StreamEvent> {
    const { loaded, prompt, request } = await this.prepare(req);
    const maxTokens = this.checkLength(request, prompt, loaded);
    const grammar =
      request.output_schema && !prompt.functions ? await this.grammar(loaded, request) : undefined;
    const lease = await loaded.pool.acquire(prompt.tokens, signal);
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
    } finally {
      lease.release();
    }
  }

  private async prepare(
    req: MessageRequest,
  ): Promise<{ loaded: LoadedModel; prompt: Prompt; request: MessageRequest }> {
    const loaded = await this.model();
    const request = this.settings.normalizeBilling ? dropClaudeCodeBilling(req) : req;
    return { loaded, request, prompt: renderPrompt(request, loaded.chatWrapper, loaded.model.tokenizer) };
  }

  /**
   * Clients hard-code max_tokens (Claude Code sends 64000), so without `max_output_tokens`
   * in the config a reply is capped at half the context window, as the router caps it when
   * the config sets one. The prompt plus that must still fit, or it is the hosted API's 400.
   */
  private checkLength(req: MessageRequest, prompt: Prompt, loaded: LoadedModel): number {
    if (req.max_tokens < 1) throw invalidRequest("max_tokens: must be greater than or equal to 1");
    const cap = this.settings.maxOutputTokens ?? Math.floor(loaded.contextSize / 2);
    const maxTokens = Math.min(req.max_tokens, cap);
    if (prompt.tokens.length + maxTokens > loaded.contextSize) {
      throw invalidRequest(
        `input length and \`max_tokens\` exceed context limit: ${prompt.tokens.length} + ${maxTokens} > ${loaded.contextSize}, decrease input length or \`max_tokens\` and try again`,
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
