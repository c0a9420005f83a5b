/** The parts of the OpenAI Chat Completions wire format Parley writes and reads. */

export type OpenAIContentPart =
  | { type: "text"; text: string }
  | { type: "image_url"; image_url: { url: string } };

export interface OpenAIToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export type OpenAIMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string | OpenAIContentPart[] }
  | { role: "assistant"; content: string | null; tool_calls?: OpenAIToolCall[] }
  | { role: "tool"; tool_call_id: string; content: string };

export interface OpenAITool {
  type: "function";
  function: { name: string; description?: string; parameters: Record<string, unknown>; strict?: boolean };
}

export type OpenAIToolChoice =
  | "auto"
  | "none"
  | "required"
  | { type: "function"; function: { name: string } };

export interface OpenAIRequest {
  model: string;
  messages: OpenAIMessage[];
  max_tokens: number;
  stream: boolean;
  stream_options?: { include_usage: boolean };
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stop?: string[];
  tools?: OpenAITool[];
  tool_choice?: OpenAIToolChoice;
  parallel_tool_calls?: boolean;
  user?: string;
  response_format?: {
    type: "json_schema";
    json_schema: { name: string; schema: Record<string, unknown>; strict: boolean };
  };
}

export interface OpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
}

export interface OpenAIToolCallDelta {
  index?: number;
  id?: string | null;
  type?: "function";
  function?: { name?: string | null; arguments?: string | null } | null;
}

export interface OpenAIDelta {
  role?: string | null;
  content?: string | null;
  /** llama-server, DeepSeek, vLLM before 0.16 */
  reasoning_content?: string | null;
  /** vLLM 0.16+, Ollama */
  reasoning?: string | null;
  tool_calls?: OpenAIToolCallDelta[] | null;
}

export interface OpenAIChoiceChunk {
  index: number;
  delta?: OpenAIDelta | null;
  finish_reason?: string | null;
  /** vLLM: the stop string (or token id) that ended generation. */
  stop_reason?: string | number | null;
}

export interface OpenAIChunk {
  id?: string;
  object?: string;
  model?: string;
  choices?: OpenAIChoiceChunk[];
  usage?: OpenAIUsage | null;
  /** Servers that fail mid-stream send an error object instead of choices. */
  error?: unknown;
}

export interface OpenAIResponse {
  id?: string;
  choices: {
    index: number;
    message: {
      role: "assistant";
      content?: string | null;
      reasoning_content?: string | null;
      reasoning?: string | null;
      tool_calls?: OpenAIToolCall[] | null;
    };
    finish_reason?: string | null;
    stop_reason?: string | number | null;
  }[];
  usage?: OpenAIUsage | null;
}
