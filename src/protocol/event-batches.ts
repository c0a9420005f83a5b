import type { StreamEvent } from "./schema/index.ts";

/** One event, or the events that became ready together (never empty). */
export type EventOrBatch = StreamEvent | readonly StreamEvent[];

/**
 * A reply whose events become ready in groups: all that one read of an upstream's reply gave,
 * often a whole short reply. To every consumer it is an `AsyncIterable<StreamEvent>`; the two
 * that end every request (the SSE writer and the fold) read `batches()` instead, and so pay one
 * await a group, not one an event (an async generator's yield and its reader's await were the
 * largest part of relaying a streamed OpenAI reply after the socket writes, bench:gateway).
 * Only one of the two views may be read.
 */
export interface EventBatches extends AsyncIterable<StreamEvent> {
  batches(): AsyncIterable<readonly StreamEvent[]>;
}

/** The batches as an `EventBatches`: its events one by one for the consumers that take them so. */
export function inBatches(batches: AsyncIterable<readonly StreamEvent[]>): EventBatches {
  return {
    batches: () => batches,
    async *[Symbol.asyncIterator]() {
      for await (const batch of batches) {
        // A loop, not `yield*` of the array: that would wrap it in an async iterator of its own.
        for (const event of batch) yield event;
      }
    },
  };
}

/** A batch, not an event (no event is an array). */
export const isBatch = (item: EventOrBatch): item is readonly StreamEvent[] => Array.isArray(item);

/**
 * What a consumer that takes groups iterates: the batches of an `EventBatches`, the events
 * themselves otherwise. `Array.isArray` tells a batch from an event.
 */
export function eventsOrBatches(events: AsyncIterable<StreamEvent>): AsyncIterable<EventOrBatch> {
  const batched = events as Partial<EventBatches>;
  return typeof batched.batches === "function" ? batched.batches() : events;
}
