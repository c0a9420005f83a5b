export { clearThinking } from "./clear-thinking.ts";
export { CLEARED_TOOL_RESULT, clearToolUses, hostedChoice, listToolUses } from "./clear-tool-uses.ts";
export { compactConversation, type Summariser, summaryText } from "./compact.ts";
export { dropBeforeCompaction, summaryTurn } from "./compaction-block.ts";
export { type EditedRequest, editRequest, type TokenCounter } from "./edit-request.ts";
export { DEFAULT_SUMMARY_INSTRUCTIONS, DEFAULTS, type EditPlan, planEdits } from "./edits.ts";
export { type ContextModel, countWithContext, manageContext } from "./manage.ts";
export { contextModelOf } from "./model.ts";
export { type ContextSettings, contextSettings, promptLimit, resolveAmount } from "./settings.ts";
