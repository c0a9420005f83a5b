import { describe, expect, it } from "vitest";
import { claudeEnvironment, splitArgs } from "../../src/cli/claude/index.ts";
import { planSlots } from "../../src/providers/llama/memory-plan.ts";

const target = {
  baseUrl: "http://127.0.0.1:8787",
  key: "sk-parley-secret",
  model: { id: "qwen3-4b-instruct-2507-claude-code", contextWindow: 32768, maxOutputTokens: 8192 },
};

describe("the environment parley claude gives Claude Code", () => {
  it("points every model role at Parley's model and tells its true window and output limit", () => {
    const env = claudeEnvironment({ PATH: "/bin", ANTHROPIC_API_KEY: "sk-ant-users-own" }, target);
    expect(env).toEqual({
      PATH: "/bin",
      ANTHROPIC_BASE_URL: "http://127.0.0.1:8787",
      ANTHROPIC_AUTH_TOKEN: "sk-parley-secret",
      ANTHROPIC_MODEL: target.model.id,
      ANTHROPIC_DEFAULT_OPUS_MODEL: target.model.id,
      ANTHROPIC_DEFAULT_SONNET_MODEL: target.model.id,
      ANTHROPIC_DEFAULT_HAIKU_MODEL: target.model.id,
      ANTHROPIC_SMALL_FAST_MODEL: target.model.id,
      CLAUDE_CODE_SUBAGENT_MODEL: target.model.id,
      CLAUDE_CODE_MAX_CONTEXT_TOKENS: "32768",
      CLAUDE_CODE_MAX_OUTPUT_TOKENS: "8192",
      DISABLE_TELEMETRY: "1",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    });
  });

  it.each([
    [32768, undefined],
    [99_999, undefined],
    [100_000, "100000"],
    [200_000, "200000"],
  ])(
    "a %i-token window sets the auto-compact window only from 100k (2.1.332's minimum): %s",
    (w, expected) => {
      const env = claudeEnvironment({}, { ...target, model: { ...target.model, contextWindow: w } });
      expect(env.CLAUDE_CODE_AUTO_COMPACT_WINDOW).toBe(expected);
      expect(env.CLAUDE_CODE_MAX_CONTEXT_TOKENS).toBe(String(w));
    },
  );

  it("keeps tuning the user chose, a small model and a Parley-owned config dir", () => {
    const env = claudeEnvironment(
      { CLAUDE_CODE_MAX_OUTPUT_TOKENS: "2048" },
      { ...target, smallModel: "mock", configDir: "/data/claude/config" },
    );
    expect(env).toMatchObject({
      CLAUDE_CODE_MAX_OUTPUT_TOKENS: "2048",
      ANTHROPIC_SMALL_FAST_MODEL: "mock",
      ANTHROPIC_DEFAULT_HAIKU_MODEL: "mock",
      CLAUDE_CONFIG_DIR: "/data/claude/config",
    });
  });

  it("leaves the window variables out for a model whose window is unknown", () => {
    const env = claudeEnvironment(
      {},
      { ...target, model: { id: "mock", contextWindow: null, maxOutputTokens: null } },
    );
    expect(env).not.toHaveProperty("CLAUDE_CODE_MAX_CONTEXT_TOKENS");
    expect(env).not.toHaveProperty("CLAUDE_CODE_MAX_OUTPUT_TOKENS");
  });
});

describe("parley claude's arguments", () => {
  it.each([
    [["-p", "hi"], { help: false, claudeArgs: ["-p", "hi"] }],
    [["--model", "mock", "-p", "hi"], { model: "mock", help: false, claudeArgs: ["-p", "hi"] }],
    [["-p", "hi", "--model=local"], { model: "local", help: false, claudeArgs: ["-p", "hi"] }],
    [
      ["--parley-config", "p.yaml", "--parley-data-dir", "d", "--resume"],
      { config: "p.yaml", dataDir: "d", help: false, claudeArgs: ["--resume"] },
    ],
    [["--", "--model", "x"], { help: false, claudeArgs: ["--", "--model", "x"] }],
    [["--parley-help"], { help: true, claudeArgs: [] }],
  ])("%j", (argv, expected) => {
    expect(splitArgs(argv)).toEqual(expected);
  });

  it("refuses --model without a value", () => {
    expect(() => splitArgs(["--model"])).toThrow(/--model needs a value/);
  });
});

describe("slots that fit memory", () => {
  const perSlot = (bytes: number) => (slots: number) => slots * bytes;
  const GB = 1024 ** 3;
  it.each([
    [4, perSlot(1 * GB), 8 * GB, 4, false],
    [4, perSlot(2.5 * GB), 8 * GB, 3, true],
    [4, perSlot(5 * GB), 8 * GB, 1, true],
    [1, perSlot(20 * GB), 8 * GB, 1, false],
  ])("%i slots asked → %i given", (parallel, bytesFor, budgetBytes, expected, reduced) => {
    const plan = planSlots({ parallel, bytesFor, budgetBytes });
    expect(plan.parallel).toBe(expected);
    expect(plan.estimatedBytes).toBe(bytesFor(expected));
    expect(Boolean(plan.reduced)).toBe(reduced);
    if (reduced)
      expect(plan.reduced).toMatch(new RegExp(`^${parallel} slots would need .* using ${expected}`));
  });

  /** Each context costs `perContext` and each slot `perSlot`; 4 → 3 → 2 → 1 contexts may be tried. */
  const layout =
    (perContext: number, perSlot: number) =>
    (slots: number, contexts: number): number =>
      contexts * perContext + slots * perSlot;
  const choices = (slots: number) => Array.from({ length: slots }, (_, i) => slots - i);
  it.each([
    ["all four contexts fit", layout(1 * GB, 1 * GB), 8 * GB, { parallel: 4, contexts: 4 }, undefined],
    [
      "fewer contexts before fewer slots",
      layout(1 * GB, 1 * GB),
      6.5 * GB,
      { parallel: 4, contexts: 2 },
      /^4 slots over 4 contexts would need 8192 MB of context memory, over the 6656 MB budget; using 2 contexts \(6144 MB\)/,
    ],
    [
      "one context and still too much: fewer slots",
      layout(1 * GB, 2 * GB),
      6 * GB,
      { parallel: 2, contexts: 2 },
      /^4 slots would need 12288 MB .*; using 2 over 2 contexts \(6144 MB\)/,
    ],
    [
      "nothing fits: one slot, one context",
      layout(4 * GB, 4 * GB),
      2 * GB,
      { parallel: 1, contexts: 1 },
      /using 1 over 1 context \(8192 MB\)/,
    ],
  ])("%s", (_name, bytesFor, budgetBytes, expected, reduced) => {
    const plan = planSlots({ parallel: 4, contextsFor: choices, bytesFor, budgetBytes });
    expect({ parallel: plan.parallel, contexts: plan.contexts }).toEqual(expected);
    expect(plan.estimatedBytes).toBe(bytesFor(expected.parallel, expected.contexts));
    if (reduced) expect(plan.reduced).toMatch(reduced);
    else expect(plan.reduced).toBeUndefined();
  });
});
