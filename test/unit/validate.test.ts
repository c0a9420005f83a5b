import { describe, expect, it } from "vitest";
import { compileValidator, MessageCreateParams, unknownEnumValues } from "../../src/protocol/index.ts";

const validate = compileValidator(MessageCreateParams);
const base = { model: "m", max_tokens: 5, messages: [{ role: "user", content: "hi" }] };
const message = (body: unknown) => {
  const r = validate(body);
  return r.ok ? "ok" : r.message;
};

describe("request validation messages", () => {
  it.each([
    [base, "ok"],
    [{ ...base, unknown_future_field: 1 }, "ok"],
    [{ ...base, max_tokens: 1.5 }, "max_tokens: Input should be a valid integer"],
    [{ ...base, max_tokens: "5" }, "max_tokens: Input should be a valid integer"],
    [{ ...base, model: undefined }, "model: Field required"],
    [{ ...base, system: 5 }, "system: Input should be a valid string or list"],
    [{ ...base, top_k: -1 }, "top_k: Input should be greater than or equal to 0"],
    [{ ...base, stop_sequences: [1] }, "stop_sequences.0: Input should be a valid string"],
    [{ ...base, messages: [{ role: "user" }] }, "messages.0.content: Field required"],
    [
      { ...base, messages: [{ role: "user", content: [{ type: "text" }] }] },
      "messages.0.content.0.text: Field required",
    ],
    [
      {
        ...base,
        messages: [
          {
            role: "user",
            content: [{ type: "image", source: { type: "base64", media_type: "image/bmp", data: "" } }],
          },
        ],
      },
      "messages.0.content.0.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
    ],
    [{ ...base, tool_choice: { type: "tool" } }, "tool_choice.name: Field required"],
    [
      { ...base, tool_choice: { type: "sometimes" } },
      "tool_choice.type: Input tag 'sometimes' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'",
    ],
    [
      { ...base, thinking: { type: "enabled", budget_tokens: 100 } },
      "thinking.budget_tokens: Input should be greater than or equal to 1024",
    ],
    [{ ...base, metadata: { user_id: 5 } }, "metadata.user_id: Input should be a valid string or null"],
    [{ ...base, service_tier: "premium" }, "service_tier: Input should be 'auto' or 'standard_only'"],
    // Enum-like fields clients extend over time: a new value is accepted, a wrong type is not.
    [{ ...base, output_config: { effort: "extreme" } }, "ok"],
    [{ ...base, output_config: { effort: null } }, "ok"],
    [
      { ...base, output_config: { effort: 3 } },
      "output_config.effort: Input should be a valid string or null",
    ],
    [{ ...base, thinking: { type: "adaptive", display: "updates" } }, "ok"],
    [{ ...base, thinking: { type: "adaptive", display: "holographic" } }, "ok"],
    [{ ...base, thinking: { type: "enabled", budget_tokens: 2048, display: null } }, "ok"],
    [
      { ...base, thinking: { type: "adaptive", display: true } },
      "thinking.display: Input should be a valid string or null",
    ],
    [
      {
        ...base,
        messages: [
          {
            role: "user",
            content: [{ type: "tool_result", tool_use_id: "x", content: [{ type: "text", text: 1 }] }],
          },
        ],
      },
      "messages.0.content.0.content.0.text: Input should be a valid string",
    ],
    [{ ...base, tools: [{ type: "bash_20250124", name: "bash" }] }, "ok"],
    [{ ...base, tools: [{ name: "t" }] }, "tools.0.input_schema: Field required"],
    [{ ...base, cache_control: { type: "persistent" } }, "cache_control.type: Input should be 'ephemeral'"],
  ])("%j → %s", (body, expected) => {
    expect(message(body)).toBe(expected);
  });
});

describe("unknown values of enum-like fields", () => {
  it.each([
    [base, []],
    [{ ...base, thinking: { type: "adaptive", display: "updates" } }, []],
    [{ ...base, output_config: { effort: "max" } }, []],
    [{ ...base, thinking: { type: "adaptive", display: null } }, []],
    [
      { ...base, thinking: { type: "adaptive", display: "holographic" }, output_config: { effort: "ultra" } },
      [
        { field: "thinking.display", value: "holographic" },
        { field: "output_config.effort", value: "ultra" },
      ],
    ],
  ])("%j → %j", (body, expected) => {
    expect(unknownEnumValues(body)).toEqual(expected);
  });
});
