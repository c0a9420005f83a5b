import { GeneralChatWrapper, LlamaJsonSchemaValidationError } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
// Not exported by node-llama-cpp's index: imported from its file, so a rename there fails this test.
import { LlamaFunctionCallValidationError } from "../../node_modules/node-llama-cpp/dist/evaluator/LlamaChat/utils/LlamaFunctionCallValidationError.js";
import { ApiError } from "../../src/protocol/index.ts";
import { generationFailure } from "../../src/providers/llama/generate.ts";

describe("generationFailure", () => {
  it("turns node-llama-cpp's invalid tool call into an api_error that says what happened", () => {
    const err = new LlamaFunctionCallValidationError(
      'Function name "nope" is not in the supplied functions object',
      { get_weather: {} },
      new GeneralChatWrapper(),
      "nope",
    );
    const sent = generationFailure(err, "qwen");
    expect(sent).toBeInstanceOf(ApiError);
    expect(sent).toMatchObject({
      status: 500,
      type: "api_error",
      message:
        'Model qwen generated a tool call that is not valid for its tools (Function name "nope" is not in the supplied functions object)',
    });
  });

  it("does the same when node-llama-cpp's check of the parsed arguments rejects them", () => {
    // Seen with the random test model: the grammar counted 12 characters, the bytes decoded to 15.
    const err = new LlamaJsonSchemaValidationError(
      "Expected at most 12 characters but got 15",
      { city: "Hiddenférés\uFFFD\uFFFD\uFFFD\uFFFD", unit: "c" },
      { type: "object", properties: { city: { type: "string", maxLength: 12 } } },
    );
    expect(generationFailure(err, "tiny")).toMatchObject({
      status: 500,
      type: "api_error",
      message:
        "Model tiny generated a tool call that is not valid for its tools (Expected at most 12 characters but got 15)",
    });
  });

  it("passes anything else through unchanged", () => {
    const plain = new Error("boom");
    const api = new ApiError(400, "invalid_request_error", "bad");
    expect(generationFailure(plain, "qwen")).toBe(plain);
    expect(generationFailure(api, "qwen")).toBe(api);
    expect(generationFailure("text", "qwen")).toBe("text");
  });
});
