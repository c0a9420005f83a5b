import type { CallContext, Upstream, UpstreamCall, UpstreamPool } from "../upstream/index.ts";
import { readAll } from "../upstream/index.ts";
import type { OpenAIMessage, OpenAIRequest } from "./types.ts";

/**
 * The documented estimate for upstreams without a tokenizer endpoint: one token per four
 * characters of message text and tool definitions, four per message for its role and
 * separators, 85 per image, and three for the reply primer.
 */
export function estimateTokens(body: Pick<OpenAIRequest, "messages" | "tools">): number {
  let chars = 0;
  let fixed = 3;
  for (const m of body.messages) {
    fixed += 4;
    chars += messageChars(m);
  }
  if (body.tools?.length) chars += JSON.stringify(body.tools).length;
  for (const m of body.messages)
    if (Array.isArray(m.content)) fixed += 85 * m.content.filter((p) => p.type === "image_url").length;
  return fixed + Math.ceil(chars / 4);
}

function messageChars(m: OpenAIMessage): number {
  let n = 0;
  if (typeof m.content === "string") n += m.content.length;
  else if (Array.isArray(m.content)) for (const p of m.content) if (p.type === "text") n += p.text.length;
  if (m.role === "assistant" && m.tool_calls)
    for (const c of m.tool_calls) n += c.function.name.length + c.function.arguments.length;
  return n;
}

type TokenizerKind = "vllm" | "llama" | "none";

/**
 * Counts prompt tokens with the upstream's own tokenizer: vLLM's `POST /tokenize` takes the
 * chat messages (and tools) and renders its chat template; llama-server's `POST /apply-template`
 * renders the template and its `POST /tokenize` counts the text. Which one an upstream has is
 * found on first use and remembered.
 */
export class UpstreamTokenizer {
  private kind: TokenizerKind | undefined;
  private readonly pool: UpstreamPool;
  private readonly headers: Record<string, string>;

  constructor(pool: UpstreamPool, headers: Record<string, string>) {
    this.pool = pool;
    this.headers = headers;
  }

  /** The count, or undefined when the upstream has no tokenizer endpoint. */
  async count(body: OpenAIRequest, ctx: CallContext): Promise<number | undefined> {
    if (this.kind === "none") return undefined;
    if (this.kind !== "llama") {
      const n = await this.vllm(body, ctx);
      if (n !== undefined || this.kind === "vllm") return n;
    }
    const n = await this.llama(body, ctx);
    this.kind = n === undefined ? "none" : "llama";
    return n;
  }

  private async vllm(body: OpenAIRequest, ctx: CallContext): Promise<number | undefined> {
    const payload = {
      model: body.model,
      messages: body.messages,
      tools: body.tools,
      add_generation_prompt: true,
    };
    const j = await this.post("/tokenize", payload, ctx);
    if (typeof j?.count === "number") {
      this.kind = "vllm";
      return j.count;
    }
    return undefined;
  }

  private async llama(body: OpenAIRequest, ctx: CallContext): Promise<number | undefined> {
    const rendered = await this.post("/apply-template", { messages: body.messages, tools: body.tools }, ctx);
    if (typeof rendered?.prompt !== "string") return undefined;
    const j = await this.post("/tokenize", { content: rendered.prompt, add_special: true }, ctx);
    return Array.isArray(j?.tokens) ? j.tokens.length : undefined;
  }

  /** The JSON of a 2xx answer; undefined for 4xx (no such endpoint, or another server's shape). */
  private async post(
    path: string,
    payload: unknown,
    ctx: CallContext,
  ): Promise<Record<string, unknown> | undefined> {
    const call = (u: Upstream): UpstreamCall => ({
      method: "POST",
      path: u.rootPath + path,
      fromOrigin: true,
      headers: this.headers,
      body: JSON.stringify(payload),
      awaitFirstChunk: false,
      acceptStatus: (s) => s >= 400 && s < 500 && s !== 408 && s !== 429,
    });
    const reply = await this.pool.send(call, ctx);
    const text = await readAll(reply);
    if (reply.status >= 300) return undefined;
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
}
