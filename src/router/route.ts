import { modelAllowed, type Principal } from "../auth/index.ts";
import {
  type ContentBlockParam,
  type MessageRequest,
  notFound,
  permissionError,
  unsupportedFeature,
} from "../protocol/index.ts";
import type { ModelCatalog, ModelEntry } from "./catalog.ts";

/** Versioned tools the hosted API runs itself; only an Anthropic upstream can (MCP toolsets Parley runs, see tools/). */
const SERVER_TOOL = /^(web_search|web_fetch|code_execution|tool_search_tool_(bm25|regex))_/;

/** Finds the model a request names and checks the caller may use it. 404 unknown, 403 out of scope. */
export function resolveModel(catalog: ModelCatalog, name: string, principal: Principal): ModelEntry {
  const entry = catalog.find(name);
  if (!entry) throw notFound(`model: ${name}`);
  if (!modelAllowed(principal, [entry.config.id, name])) {
    throw permissionError(`This API key does not have permission to use model ${name}`);
  }
  return entry;
}

/** 422 when the model lacks a feature the request needs. */
export function checkCapabilities(entry: ModelEntry, req: MessageRequest): void {
  const caps = entry.capabilities;
  const id = entry.config.id;
  if (req.tools.length > 0 && !caps.tools)
    throw unsupportedFeature(`tools: model ${id} does not support tool use`);
  if (req.mcp_servers.length > 0 && !caps.tools)
    throw unsupportedFeature(`mcp_servers: model ${id} does not support tool use, which MCP tools need`);
  if (!caps.vision && req.messages.some((t) => t.content.some(hasImage))) {
    throw unsupportedFeature(`messages: model ${id} does not support image input`);
  }
  if (req.thinking?.type === "enabled" && !caps.thinking) {
    throw unsupportedFeature(`thinking: model ${id} does not support extended thinking`);
  }
  if (req.output_schema && !caps.json_schema) {
    throw unsupportedFeature(`output_config.format: model ${id} does not support structured outputs`);
  }
  if (entry.config.provider !== "anthropic") {
    const serverTool = req.tools.find((t) => t.type && SERVER_TOOL.test(t.type));
    if (serverTool) {
      throw unsupportedFeature(
        `tools: model ${id} cannot run the server tool ${serverTool.name} (${serverTool.type}); only an Anthropic upstream can`,
      );
    }
  }
}

function hasImage(block: ContentBlockParam): boolean {
  if (block.type === "image") return true;
  if (block.type === "tool_result" && Array.isArray(block.content))
    return block.content.some((b) => b.type === "image");
  return false;
}

/** Models whose thinking blocks Parley signed itself, so their signatures can be checked here. */
export const signsThinking = (entry: ModelEntry): boolean =>
  entry.config.provider === "mock" || entry.config.provider === "llama";

/**
 * Clients hard-code large `max_tokens` (Claude Code and the AI SDK send 64000); a model with a
 * smaller output limit generates up to its limit instead of refusing the request.
 */
export function clampMaxTokens(entry: ModelEntry, req: MessageRequest): MessageRequest {
  const limit = entry.config.max_output_tokens;
  return limit && req.max_tokens > limit ? { ...req, max_tokens: limit } : req;
}
