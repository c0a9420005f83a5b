import type { MessageRequest, TextBlockParam } from "../../protocol/index.ts";

const BILLING_PREFIX = "x-anthropic-billing-header:";

/**
 * Claude Code starts its system prompt with a block like
 * `x-anthropic-billing-header: cc_version=2.1.197.c79; cc_entrypoint=sdk-cli; cch=…;` whose
 * values change on every request. Left in, it sits before everything else in the rendered
 * prompt and no cached prefix ever matches. It is metadata for Anthropic's billing, not an
 * instruction, so it is dropped before templating.
 */
export function dropClaudeCodeBilling(req: MessageRequest): MessageRequest {
  const [first, ...rest] = req.system;
  if (!first || !isBillingBlock(first)) return req;
  return { ...req, system: rest };
}

export function isBillingBlock(block: TextBlockParam): boolean {
  return block.text.trimStart().startsWith(BILLING_PREFIX) && !block.text.trim().includes("\n");
}
