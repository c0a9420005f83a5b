import { describe, expect, it } from "vitest";
import type { StreamEvent } from "../../src/protocol/index.ts";
import { UsageTally } from "../../src/service/index.ts";

const start = (usage: Record<string, unknown>) =>
  ({ type: "message_start", message: { usage } }) as unknown as StreamEvent;
const delta = (text: string) =>
  ({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } }) as StreamEvent;
const end = (usage: Record<string, unknown>) =>
  ({
    type: "message_delta",
    delta: { stop_reason: "end_turn", stop_sequence: null },
    usage,
  }) as unknown as StreamEvent;

describe("UsageTally", () => {
  it.each([
    [
      "every field reported at the start and the end",
      [
        start({
          input_tokens: 12,
          output_tokens: 1,
          cache_creation_input_tokens: 3,
          cache_read_input_tokens: 4,
        }),
        delta("a"),
        delta("b"),
        end({ output_tokens: 9 }),
      ],
      { input_tokens: 12, output_tokens: 9, cache_creation_input_tokens: 3, cache_read_input_tokens: 4 },
    ],
    [
      "a reply cut short: the deltas seen count, not the start's figure",
      [start({ input_tokens: 5, output_tokens: 1 }), delta("a"), delta("b"), delta("c")],
      { input_tokens: 5, output_tokens: 3, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    ],
    [
      "the final figure wins, even below the deltas seen",
      [start({ input_tokens: 5 }), delta("a"), delta("b"), end({ output_tokens: 1 })],
      { input_tokens: 5, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    ],
    [
      "fields that are not numbers are left as they were",
      [
        start({ input_tokens: 7, cache_read_input_tokens: 2 }),
        end({ input_tokens: null, output_tokens: "4", cache_read_input_tokens: undefined }),
      ],
      { input_tokens: 7, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 2 },
    ],
    [
      "the end updates input and cache figures it reports",
      [
        start({ input_tokens: 7 }),
        end({ input_tokens: 8, output_tokens: 2, cache_creation_input_tokens: 6 }),
      ],
      { input_tokens: 8, output_tokens: 2, cache_creation_input_tokens: 6, cache_read_input_tokens: 0 },
    ],
    [
      "compaction passes in usage.iterations are billed on top",
      [
        start({ input_tokens: 10 }),
        end({
          output_tokens: 3,
          iterations: [
            { type: "compaction", input_tokens: 100, output_tokens: 20 },
            { type: "message", input_tokens: 10, output_tokens: 3 },
          ],
        }),
      ],
      { input_tokens: 110, output_tokens: 23, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    ],
  ])("%s", (_name, events, billed) => {
    const tally = new UsageTally();
    for (const e of events) tally.observe(e);
    expect(tally.billed()).toEqual(billed);
  });

  it("marks a relayed reply the client left", () => {
    const tally = new UsageTally();
    tally.fromUsage({ input_tokens: 1, output_tokens: 2, cut_short: true });
    expect([tally.cutShort, tally.statusFor(200), tally.output_tokens]).toEqual([true, 499, 2]);
  });
});
