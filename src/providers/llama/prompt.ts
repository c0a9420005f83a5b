import {
  type ChatHistoryItem,
  type ChatModelFunctions,
  type ChatWrapper,
  type ChatWrapperGenerateContextStateOptions,
  type ChatWrapperGeneratedContextState,
  LlamaText,
  type Token,
  type Tokenizer,
} from "node-llama-cpp";
import type { MessageRequest, ToolParam } from "../../protocol/index.ts";
import { toChatHistory } from "./history.ts";
import { toGrammarSchema } from "./json-schema.ts";

/** Everything generation needs that depends only on the request: rendered once, used for counting too. */
export interface Prompt {
  history: ChatHistoryItem[];
  /** Tools the model may call now (none when tool_choice is none or the reply is structured output). */
  functions?: ChatModelFunctions;
  /** The chat wrapper to generate with: the model's own, forced into a call when tool_choice says so. */
  chatWrapper: ChatWrapper;
  tokens: Token[];
}

/**
 * Renders the request with the model's chat template, exactly as LlamaChat will evaluate it
 * (same history, same functions, a trailing model turn), so the token count is the one the
 * model sees.
 */
export function renderPrompt(req: MessageRequest, base: ChatWrapper, tokenizer: Tokenizer): Prompt {
  const history = toChatHistory(req);
  const functions = callableFunctions(req);
  const forced =
    functions !== undefined && (req.tool_choice.type === "any" || req.tool_choice.type === "tool");
  const chatWrapper = forced ? forceFunctionCall(base) : base;
  const state = chatWrapper.generateContextState({ chatHistory: history, availableFunctions: functions });
  return { history, functions, chatWrapper, tokens: state.contextText.tokenize(tokenizer) };
}

function callableFunctions(req: MessageRequest): ChatModelFunctions | undefined {
  const choice = req.tool_choice;
  if (choice.type === "none" || req.tools.length === 0) return undefined;
  // A grammar-constrained JSON reply and function calling cannot run together in node-llama-cpp.
  if (req.output_schema && choice.type === "auto") return undefined;
  const tools = choice.type === "tool" ? req.tools.filter((t) => t.name === choice.name) : req.tools;
  return Object.fromEntries(tools.map((t) => [t.name, toFunction(t)]));
}

function toFunction(tool: ToolParam): ChatModelFunctions[string] {
  const description = "description" in tool && typeof tool.description === "string" ? tool.description : "";
  const schema = "input_schema" in tool ? tool.input_schema : { type: "object" };
  return { description, params: toGrammarSchema(schema, `tools[name=${tool.name}].input_schema`) };
}

/**
 * The model's chat wrapper, except that after the prompt it goes straight into a function
 * call (the name constrained to the offered tools): tool_choice `any` and `tool`.
 */
export function forceFunctionCall(base: ChatWrapper): ChatWrapper {
  const forced = Object.create(base) as ChatWrapper;
  forced.generateContextState = (options: ChatWrapperGenerateContextStateOptions) => {
    const state = base.generateContextState(options);
    return {
      contextText: state.contextText,
      stopGenerationTriggers: state.stopGenerationTriggers,
      noPrefixTrigger: { type: "functionCall", inject: LlamaText("") },
      detectFunctionCalls: true,
    } satisfies ChatWrapperGeneratedContextState;
  };
  return forced;
}
