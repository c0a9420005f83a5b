import { describe, expect, it } from "vitest";
import {
  eventsOrBatches,
  foldStream,
  inBatches,
  isBatch,
  MessageStream,
  type StreamEvent,
} from "../../src/protocol/index.ts";

/** A short reply's events, in the groups an upstream's reads could give them. */
function reply(): StreamEvent[][] {
  const out = new MessageStream("m", "2023-06-01");
  return [
    [out.start({ input_tokens: 4 }), ...out.text("Hello")],
    out.text(", world"),
    [...out.text("!"), ...out.finish("end_turn", null)],
  ];
}

async function* source(batches: StreamEvent[][]): AsyncGenerator<readonly StreamEvent[]> {
  for (const batch of batches) yield batch;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe("EventBatches", () => {
  it("is read event by event by any consumer, in order", async () => {
    const batches = reply();
    expect(await collect(inBatches(source(batches)))).toEqual(batches.flat());
  });

  it("hands its batches to a consumer that takes groups, and plain events stay events", async () => {
    const batches = reply();
    const items = await collect(eventsOrBatches(inBatches(source(batches))));
    expect(items).toEqual(batches);
    expect(items.every(isBatch)).toBe(true);
    async function* one(): AsyncGenerator<StreamEvent> {
      yield* batches.flat();
    }
    const events = await collect(eventsOrBatches(one()));
    expect(events).toEqual(batches.flat());
    expect(events.some(isBatch)).toBe(false);
  });

  it("folds to the same Message read in batches or event by event, observing every event once", async () => {
    const batches = reply();
    const seen: string[] = [];
    // Its per-event view throws: the fold must take the batches.
    const batchesOnly = {
      batches: () => source(batches),
      [Symbol.asyncIterator]: (): AsyncIterator<StreamEvent> => {
        throw new Error("read event by event");
      },
    };
    const fromBatches = await foldStream(batchesOnly, (e) => seen.push(e.type));
    async function* one(): AsyncGenerator<StreamEvent> {
      yield* batches.flat();
    }
    const fromEvents = await foldStream(one());
    expect(fromBatches).toEqual(fromEvents);
    expect(fromBatches.content).toEqual([{ type: "text", text: "Hello, world!", citations: null }]);
    expect(seen).toEqual(batches.flat().map((e) => e.type));
  });
});
