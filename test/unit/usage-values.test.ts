import { describe, expect, it } from "vitest";
import { USAGE_COLUMNS, usageValues } from "../../src/store/usage-columns.ts";
import type { UsageRow } from "../../src/store/usage-recorder.ts";

// Every column a different value, so a swap of two same-typed columns (input and output tokens) shows.
const full: UsageRow = {
  request_id: "req_1",
  key_id: "key_2",
  workspace_id: "wrkspc_3",
  model: "claude-mock",
  input_tokens: 4,
  output_tokens: 5,
  cache_creation_input_tokens: 6,
  cache_read_input_tokens: 7,
  status: 200,
  error_type: "overloaded_error",
  streamed: 1,
  latency_ms: 8,
  ttft_ms: 9,
  started_at: 10,
  batch_id: "msgbatch_11",
  service_tier: "batch",
};
const { key_id, workspace_id, error_type, ttft_ms, batch_id, service_tier, ...required } = full;
const absent: UsageRow = required;

describe("usageValues", () => {
  it.each([
    [
      "every column set",
      full,
      [
        "req_1",
        "key_2",
        "wrkspc_3",
        "claude-mock",
        4,
        5,
        6,
        7,
        200,
        "overloaded_error",
        1,
        8,
        9,
        10,
        "msgbatch_11",
        "batch",
      ],
    ],
    [
      "optional columns absent",
      absent,
      ["req_1", null, null, "claude-mock", 4, 5, 6, 7, 200, null, 1, 8, null, 10, null, null],
    ],
  ] as [string, UsageRow, unknown[]][])("%s: values in USAGE_COLUMNS order", (_name, row, expected) => {
    expect(usageValues(row)).toEqual(expected);
    expect(usageValues(row)).toEqual(USAGE_COLUMNS.map((c) => row[c] ?? null));
  });
});
