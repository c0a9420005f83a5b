#!/usr/bin/env node
import { Command } from "commander";
import { ConfigError } from "../config/index.ts";
import { registerBatches } from "./batches.ts";
import { registerClaude } from "./claude/index.ts";
import { registerKeys } from "./keys.ts";
import { registerModels } from "./models.ts";
import { registerServe } from "./serve.ts";
import { describeStartupError } from "./startup-errors.ts";

const program = new Command()
  .name("parley")
  .description(
    "Parley: a self-hosted Claude Messages API server.\n" +
      "Point any Anthropic client (SDKs, Claude Code, AI SDK, LangChain, curl) at it and answer with a\n" +
      "local GGUF model, an OpenAI-compatible server, the Anthropic API, or a deterministic mock.",
  )
  .version("0.1.0")
  .showHelpAfterError();

registerServe(program);
registerKeys(program);
registerModels(program);
registerBatches(program);
registerClaude(program);

program.addHelpText(
  "after",
  '\nExamples:\n  parley serve --config parley.yaml\n  PARLEY_PORT=9000 parley serve\n  parley keys create --name ci --rpm 600\n  parley models pull claude-code\n  parley claude -p "hello"\n  parley batches list\n\nDocs: README.md',
);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // One line that says what failed and how to fix it; the stack only on request.
  process.stderr.write(`parley: ${describeStartupError(err)}\n`);
  if (process.env.PARLEY_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? err}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
}
