import {
  type ContentBlockParam,
  type MessageRequest,
  type ToolChoice,
  type ToolParam,
  type ToolResultBlockParam,
  type ToolResultContentBlock,
  type Turn,
  unsupportedFeature,
} from "../../protocol/index.ts";
import { toUpstreamToolId } from "./tool-ids.ts";
import type {
  OpenAIContentPart,
  OpenAIMessage,
  OpenAIRequest,
  OpenAITool,
  OpenAIToolChoice,
} from "./types.ts";

export interface TranslateOptions {
  /** The model name the upstream knows. */
  model: string;
  /** How many stop sequences the upstream takes; the rest are matched in Parley. */
  maxStopSequences: number;
  /** Whether the upstream accepts `top_k` (vLLM, llama-server and Ollama do; OpenAI does not). */
  topK: boolean;
}

/** An Anthropic request as a Chat Completions request. Pure; throws 422 for what cannot be expressed. */
export function toOpenAIRequest(req: MessageRequest, opts: TranslateOptions): OpenAIRequest {
  const out: OpenAIRequest = {
    model: opts.model,
    messages: toOpenAIMessages(req),
    max_tokens: req.max_tokens,
    stream: req.stream,
  };
  if (req.stream) out.stream_options = { include_usage: true };
  if (req.temperature !== undefined) out.temperature = req.temperature;
  if (req.top_p !== undefined) out.top_p = req.top_p;
  if (req.top_k !== undefined && opts.topK) out.top_k = req.top_k;
  const stop = req.stop_sequences.filter((s) => s !== "").slice(0, opts.maxStopSequences);
  if (stop.length > 0) out.stop = stop;
  if (req.tools.length > 0) {
    out.tools = req.tools.map(toOpenAITool);
    out.tool_choice = toOpenAIToolChoice(req.tool_choice);
    if ("disable_parallel_tool_use" in req.tool_choice && req.tool_choice.disable_parallel_tool_use)
      out.parallel_tool_calls = false;
  }
  const user = req.params.metadata?.user_id;
  if (typeof user === "string" && user !== "") out.user = user;
  if (req.output_schema) {
    out.response_format = {
      type: "json_schema",
      json_schema: { name: "output", schema: req.output_schema, strict: true },
    };
  }
  return out;
}

export function toOpenAIMessages(req: MessageRequest): OpenAIMessage[] {
  const out: OpenAIMessage[] = [];
  const system = req.system.map((b) => b.text).join("\n\n");
  if (system !== "") out.push({ role: "system", content: system });
  req.messages.forEach((turn, i) => {
    const last = i === req.messages.length - 1;
    if (turn.role === "assistant") {
      const m = assistantMessage(turn);
      if (m && !(last && m.content === "" && !m.tool_calls)) out.push(m);
    } else if (turn.role === "system") {
      const text = turn.content.map(blockText).join("\n\n");
      if (text !== "") out.push({ role: "system", content: text });
    } else out.push(...userMessages(turn));
  });
  return out;
}

function assistantMessage(turn: Turn): Extract<OpenAIMessage, { role: "assistant" }> | undefined {
  const text = turn.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");
  const calls = turn.content.flatMap((b) =>
    b.type === "tool_use"
      ? [
          {
            id: toUpstreamToolId(b.id),
            type: "function" as const,
            function: { name: b.name, arguments: JSON.stringify(b.input) },
          },
        ]
      : [],
  );
  if (calls.length === 0) return { role: "assistant", content: text };
  return { role: "assistant", content: text === "" ? null : text, tool_calls: calls };
}

/** Tool results first (they must follow the assistant's tool calls), then the user's own content. */
function userMessages(turn: Turn): OpenAIMessage[] {
  const messages: OpenAIMessage[] = [];
  const parts: OpenAIContentPart[] = [];
  for (const b of turn.content) {
    if (b.type === "tool_result") {
      const { text, images } = toolResult(b);
      messages.push({ role: "tool", tool_call_id: toUpstreamToolId(b.tool_use_id), content: text });
      parts.push(...images);
    } else parts.push(...contentParts(b));
  }
  if (parts.length > 0) messages.push({ role: "user", content: simplify(parts) });
  return messages;
}

const simplify = (parts: OpenAIContentPart[]): string | OpenAIContentPart[] =>
  parts.every((p) => p.type === "text") ? parts.map((p) => (p as { text: string }).text).join("\n\n") : parts;

function toolResult(b: ToolResultBlockParam): { text: string; images: OpenAIContentPart[] } {
  const blocks =
    typeof b.content === "string" ? [{ type: "text" as const, text: b.content }] : (b.content ?? []);
  const parts = blocks.flatMap((c) => contentParts(c));
  const text = parts.flatMap((p) => (p.type === "text" ? [p.text] : [])).join("\n");
  return {
    text: b.is_error ? `Error: ${text}` : text,
    images: parts.filter((p) => p.type === "image_url"),
  };
}

function contentParts(b: ContentBlockParam | ToolResultContentBlock): OpenAIContentPart[] {
  switch (b.type) {
    case "text":
      return [{ type: "text", text: b.text }];
    case "image":
      if (b.source.type === "base64")
        return [
          { type: "image_url", image_url: { url: `data:${b.source.media_type};base64,${b.source.data}` } },
        ];
      if (b.source.type === "url") return [{ type: "image_url", image_url: { url: b.source.url } }];
      throw unsupportedFeature("image.source: file ids are not supported by OpenAI-compatible upstreams");
    case "document":
      return documentParts(b);
    case "search_result":
      return [{ type: "text", text: [b.title, ...b.content.map((c) => c.text)].join("\n") }];
    case "tool_reference":
      return [{ type: "text", text: b.tool_name }];
    default:
      return [];
  }
}

function documentParts(b: Extract<ContentBlockParam, { type: "document" }>): OpenAIContentPart[] {
  const title = b.title ? [{ type: "text" as const, text: b.title }] : [];
  const s = b.source;
  if (s.type === "text") return [...title, { type: "text", text: s.data }];
  if (s.type === "content") {
    const inner = typeof s.content === "string" ? [{ type: "text" as const, text: s.content }] : s.content;
    return [...title, ...inner.flatMap((c) => contentParts(c))];
  }
  throw unsupportedFeature(
    `document.source: ${s.type} documents are not supported by OpenAI-compatible upstreams`,
  );
}

function blockText(b: ContentBlockParam): string {
  return contentParts(b)
    .flatMap((p) => (p.type === "text" ? [p.text] : []))
    .join("\n");
}

export function toOpenAITool(t: ToolParam): OpenAITool {
  if (!("input_schema" in t) || (t.type && t.type !== "custom")) {
    throw unsupportedFeature(
      `tools: ${t.name} (${t.type}) is an Anthropic-defined tool; OpenAI-compatible upstreams take custom tools only`,
    );
  }
  const fn: OpenAITool["function"] = { name: t.name, parameters: t.input_schema };
  if (t.description) fn.description = t.description;
  if (t.strict !== undefined) fn.strict = t.strict;
  return { type: "function", function: fn };
}

export function toOpenAIToolChoice(choice: ToolChoice): OpenAIToolChoice {
  switch (choice.type) {
    case "auto":
      return "auto";
    case "any":
      return "required";
    case "none":
      return "none";
    case "tool":
      return { type: "function", function: { name: choice.name } };
  }
}
