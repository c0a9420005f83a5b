/**
 * Chunk sequences shaped like real servers' `/v1/chat/completions` streams (field order,
 * ids, nulls and where usage arrives), from vLLM's, llama-server's and Ollama's output.
 */

const base = (id: string, model: string, extra: Record<string, unknown> = {}) => ({
  id,
  object: "chat.completion.chunk",
  created: 1764000000,
  model,
  ...extra,
});

type Delta = Record<string, unknown>;

/** vLLM: a role chunk with `content: ""`, deltas, a finish chunk, then (include_usage) `choices: []` + usage. */
export const vllm = {
  chunk: (delta: Delta, finish: string | null = null, stopReason: string | null = null) => ({
    ...base("chatcmpl-9f2c1e", "Qwen/Qwen2.5-7B-Instruct"),
    choices: [
      {
        index: 0,
        delta,
        logprobs: null,
        finish_reason: finish,
        ...(finish ? { stop_reason: stopReason } : {}),
      },
    ],
  }),
  usage: (prompt: number, completion: number, cached?: number) => ({
    ...base("chatcmpl-9f2c1e", "Qwen/Qwen2.5-7B-Instruct"),
    choices: [],
    usage: {
      prompt_tokens: prompt,
      total_tokens: prompt + completion,
      completion_tokens: completion,
      ...(cached !== undefined ? { prompt_tokens_details: { cached_tokens: cached } } : {}),
    },
  }),
  text(parts: string[], usage: [number, number, number?] = [12, parts.length]) {
    return [
      this.chunk({ role: "assistant", content: "" }),
      ...parts.map((p) => this.chunk({ content: p })),
      this.chunk({ content: "" }, "stop"),
      this.usage(...usage),
    ];
  },
  /** Hermes-style tool parser: id + name first, then argument fragments. */
  toolCalls(calls: { id: string; name: string; fragments: string[] }[], usage: [number, number] = [40, 20]) {
    return [
      this.chunk({ role: "assistant", content: "" }),
      ...calls.flatMap((c, index) => [
        this.chunk({ tool_calls: [{ id: c.id, type: "function", index, function: { name: c.name } }] }),
        ...c.fragments.map((f) => this.chunk({ tool_calls: [{ index, function: { arguments: f } }] })),
      ]),
      this.chunk({ content: "" }, "tool_calls"),
      this.usage(...usage),
    ];
  },
};

/** llama-server: first delta `{role, content: null}`, usage and timings inside the finish chunk. */
export const llamaServer = {
  chunk: (delta: Delta, finish: string | null = null, usage?: { prompt: number; completion: number }) => ({
    choices: [{ finish_reason: finish, index: 0, delta }],
    created: 1764000000,
    id: "chatcmpl-yPk7z9nC22CofOlh100qQdHVEDMNYCb1",
    model: "gpt-oss:20b",
    system_fingerprint: "b6097-9515c613",
    object: "chat.completion.chunk",
    ...(usage
      ? {
          usage: {
            completion_tokens: usage.completion,
            prompt_tokens: usage.prompt,
            total_tokens: usage.prompt + usage.completion,
          },
          timings: {
            prompt_n: usage.prompt,
            prompt_ms: 203.4,
            predicted_n: usage.completion,
            predicted_ms: 933.6,
          },
        }
      : {}),
  }),
};

/** Ollama: every chunk repeats `role`; each tool call arrives whole in its own chunk. */
export const ollama = {
  chunk: (delta: Delta, finish: string | null = null) => ({
    ...base("chatcmpl-838", "qwen2.5-coder:7b-instruct-q8_0", { system_fingerprint: "fp_ollama" }),
    choices: [{ index: 0, delta: { role: "assistant", ...delta }, finish_reason: finish }],
  }),
  usage: (prompt: number, completion: number) => ({
    ...base("chatcmpl-838", "qwen2.5-coder:7b-instruct-q8_0", { system_fingerprint: "fp_ollama" }),
    choices: [],
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  }),
};

interface ChunkLike {
  choices?: { delta?: Record<string, unknown>; finish_reason?: string | null }[];
  usage?: unknown;
}

/** The non-streaming `chat.completion` a server would send for the same chunks. */
export function foldChunks(chunks: unknown[]): Record<string, unknown> {
  let content = "";
  let reasoning = "";
  let finish: string | null = null;
  let usage: unknown;
  const calls: { id: string; type: "function"; function: { name: string; arguments: string } }[] = [];
  for (const c of chunks as ChunkLike[]) {
    if (c.usage) usage = c.usage;
    const choice = c.choices?.[0];
    if (!choice) continue;
    finish = choice.finish_reason ?? finish;
    const d = (choice.delta ?? {}) as {
      content?: string | null;
      reasoning_content?: string;
      tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[];
    };
    content += d.content ?? "";
    reasoning += d.reasoning_content ?? "";
    for (const tc of d.tool_calls ?? []) {
      calls[tc.index] ??= { id: tc.id ?? "", type: "function", function: { name: "", arguments: "" } };
      calls[tc.index].function.name += tc.function?.name ?? "";
      calls[tc.index].function.arguments += tc.function?.arguments ?? "";
    }
  }
  return {
    id: "chatcmpl-9f2c1e",
    object: "chat.completion",
    created: 1764000000,
    model: "Qwen/Qwen2.5-7B-Instruct",
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: content || null,
          ...(reasoning ? { reasoning_content: reasoning } : {}),
          tool_calls: calls,
        },
        finish_reason: finish,
      },
    ],
    usage,
  };
}
