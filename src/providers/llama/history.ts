import type {
  ChatHistoryItem,
  ChatModelFunctionCall,
  ChatModelResponse,
  ChatModelSegment,
} from "node-llama-cpp";
import type {
  ContentBlockParam,
  MessageRequest,
  ToolResultBlockParam,
  ToolResultContentBlock,
  Turn,
} from "../../protocol/index.ts";

/**
 * The request's conversation as node-llama-cpp chat history, so the model's own template
 * renders it: system prompt first, mid-conversation system turns in place, each tool_use as
 * a function call carrying its tool_result (the native function-calling format), thinking
 * blocks as thought segments. A final assistant turn stays last: the model continues it.
 */
export function toChatHistory(req: MessageRequest): ChatHistoryItem[] {
  const items: ChatHistoryItem[] = [];
  const system = req.system.map((b) => b.text).join("\n\n");
  if (system !== "") items.push({ type: "system", text: system });
  const calls = new Map<string, ChatModelFunctionCall>();
  for (const turn of req.messages) {
    if (turn.role === "system") items.push({ type: "system", text: textOf(turn.content) });
    else if (turn.role === "assistant") appendModel(items, turn, calls);
    else appendUser(items, turn, calls);
  }
  const last = items[items.length - 1];
  if (last?.type !== "model") items.push({ type: "model", response: [] });
  return items;
}

function appendModel(items: ChatHistoryItem[], turn: Turn, calls: Map<string, ChatModelFunctionCall>): void {
  const last = items[items.length - 1];
  // After a user turn holding only tool results, the model's reply continues the same response.
  const model: ChatModelResponse = last?.type === "model" ? last : { type: "model", response: [] };
  if (model !== last) items.push(model);
  for (const block of turn.content) {
    if (block.type === "text") model.response.push(block.text);
    else if (block.type === "thinking") model.response.push(thought(block.thinking));
    else if (block.type === "tool_use") {
      const call: ChatModelFunctionCall = {
        type: "functionCall",
        name: block.name,
        params: block.input,
        result: "",
      };
      calls.set(block.id, call);
      model.response.push(call);
    }
  }
}

function appendUser(items: ChatHistoryItem[], turn: Turn, calls: Map<string, ChatModelFunctionCall>): void {
  const rest: ContentBlockParam[] = [];
  for (const block of turn.content) {
    const call = block.type === "tool_result" ? calls.get(block.tool_use_id) : undefined;
    if (block.type === "tool_result" && call) call.result = toolResult(block);
    else rest.push(block);
  }
  const text = textOf(rest);
  if (text !== "") items.push({ type: "user", text });
}

function thought(text: string): ChatModelSegment {
  return { type: "segment", segmentType: "thought", text, ended: true };
}

function toolResult(block: ToolResultBlockParam): string {
  const text = typeof block.content === "string" ? block.content : textOf(block.content ?? []);
  return block.is_error ? `Error: ${text}` : text;
}

/** The text a model can read from blocks; images are refused before this (422), others noted. */
export function textOf(blocks: readonly (ContentBlockParam | ToolResultContentBlock)[]): string {
  return blocks
    .map((b) => {
      switch (b.type) {
        case "text":
          return b.text;
        case "document":
          return documentText(b.source, b.title);
        case "search_result":
          return [b.title, b.source, ...b.content.map((c) => c.text)].join("\n");
        case "tool_result":
          return toolResult(b);
        case "image":
          return "[image]";
        default:
          return "";
      }
    })
    .filter((t) => t !== "")
    .join("\n\n");
}

function documentText(
  source: { type: string; data?: unknown; content?: unknown },
  title?: string | null,
): string {
  const head = title ? `${title}\n` : "";
  if (source.type === "text" && typeof source.data === "string") return head + source.data;
  if (source.type === "content") {
    const content = source.content;
    if (typeof content === "string") return head + content;
    if (Array.isArray(content)) return head + textOf(content as ContentBlockParam[]);
  }
  return `${head}[document]`;
}
