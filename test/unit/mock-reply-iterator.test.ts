import { describe, expect, it } from "vitest";
import type { StreamEvent } from "../../src/protocol/index.ts";
import { MockReplyIterator, type Step } from "../../src/providers/mock/reply-iterator.ts";

const ping = (n: number) => ({ type: "ping", n }) as unknown as StreamEvent;
const waitOf = (log: string[], name: string) =>
  new Promise<void>((resolve) =>
    setImmediate(() => {
      log.push(name);
      resolve();
    }),
  );

async function drain(it: AsyncIterable<StreamEvent>): Promise<unknown[]> {
  const seen: unknown[] = [];
  for await (const e of it) seen.push((e as unknown as { n: number }).n);
  return seen;
}

/** Steps that fail after one event: by throwing, or by a wait that rejects. */
const FAILURES: [string, () => Generator<Step, void>][] = [
  [
    "an error the steps throw",
    function* () {
      yield ping(1);
      throw new Error("boom");
    },
  ],
  [
    "a wait that rejects (an abort during a delay)",
    function* () {
      yield ping(1);
      yield Promise.reject(new Error("boom"));
      yield ping(2);
    },
  ],
];

describe("MockReplyIterator", () => {
  it("hands out the events in order, waiting out the promises between them", async () => {
    const log: string[] = [];
    function* steps(): Generator<Step, void> {
      yield ping(1);
      yield waitOf(log, "wait");
      log.push("after wait");
      yield ping(2);
      yield ping(3);
    }
    const it = new MockReplyIterator(async () => steps());
    expect(await drain(it)).toEqual([1, 2, 3]);
    expect(log).toEqual(["wait", "after wait"]);
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it("does nothing before the first next(), as an async generator", async () => {
    let begun = 0;
    const it = new MockReplyIterator(async () => {
      begun++;
      return (function* () {})();
    });
    expect(begun).toBe(0);
    expect(await it.next()).toEqual({ done: true, value: undefined });
    expect(begun).toBe(1);
  });

  it.each(FAILURES)("%s rejects that next() and ends the iteration", async (_name, steps) => {
    const it = new MockReplyIterator(async () => steps());
    expect(await it.next()).toEqual({ done: false, value: ping(1) });
    await expect(it.next()).rejects.toThrow("boom");
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it("rejects the first next() when begin fails (a scripted error before the reply)", async () => {
    const it = new MockReplyIterator(() => Promise.reject(new Error("no reply")));
    await expect(drain(it)).rejects.toThrow("no reply");
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it("return() closes the steps: their finally runs and nothing more comes", async () => {
    const log: string[] = [];
    function* steps(): Generator<Step, void> {
      try {
        yield ping(1);
        yield ping(2);
      } finally {
        log.push("closed");
      }
    }
    const it = new MockReplyIterator(async () => steps());
    expect(await it.next()).toEqual({ done: false, value: ping(1) });
    expect(await it.return()).toEqual({ done: true, value: undefined });
    expect(log).toEqual(["closed"]);
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it("a for-await loop that breaks closes the steps", async () => {
    const log: string[] = [];
    function* steps(): Generator<Step, void> {
      try {
        for (let i = 1; ; i++) yield ping(i);
      } finally {
        log.push("closed");
      }
    }
    for await (const e of new MockReplyIterator(async () => steps())) {
      if ((e as unknown as { n: number }).n === 3) break;
    }
    expect(log).toEqual(["closed"]);
  });

  it("return() while a wait is pending ends the iteration when the wait is over", async () => {
    let release = () => {};
    function* steps(): Generator<Step, void> {
      yield ping(1);
      yield new Promise<void>((r) => {
        release = r;
      });
      yield ping(2);
    }
    const it = new MockReplyIterator(async () => steps());
    await it.next();
    const pending = it.next();
    await it.return();
    release();
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  describe("batches()", () => {
    const numbers = (batch: readonly StreamEvent[]) => batch.map((e) => (e as unknown as { n: number }).n);

    it("groups the events up to each wait, in order, and waits the waits out between groups", async () => {
      const log: string[] = [];
      function* steps(): Generator<Step, void> {
        yield ping(1);
        yield ping(2);
        yield waitOf(log, "wait 1");
        log.push("after wait 1");
        yield ping(3);
        yield waitOf(log, "wait 2");
        yield waitOf(log, "wait 3");
        yield ping(4);
        yield ping(5);
      }
      const it = new MockReplyIterator(async () => steps());
      const seen: number[][] = [];
      for await (const batch of it.batches()) {
        seen.push(numbers(batch));
        log.push(`batch ${seen.length}`);
      }
      expect(seen).toEqual([[1, 2], [3], [4, 5]]);
      expect(log).toEqual(["batch 1", "wait 1", "after wait 1", "batch 2", "wait 2", "wait 3", "batch 3"]);
      expect(await it.next()).toEqual({ done: true, value: undefined });
    });

    it.each(FAILURES)(
      "%s: the events before it first, then the next call rejects and the iteration ends",
      async (_n, steps) => {
        const batches = new MockReplyIterator(async () => steps()).batches()[Symbol.asyncIterator]();
        expect(
          numbers(((await batches.next()) as IteratorYieldResult<readonly StreamEvent[]>).value),
        ).toEqual([1]);
        await expect(batches.next()).rejects.toThrow("boom");
        expect(await batches.next()).toEqual({ done: true, value: undefined });
      },
    );

    it("rejects the first call when begin fails", async () => {
      const it = new MockReplyIterator(() => Promise.reject(new Error("no reply")));
      const batches = it.batches()[Symbol.asyncIterator]();
      await expect(batches.next()).rejects.toThrow("no reply");
      expect(await batches.next()).toEqual({ done: true, value: undefined });
    });

    it("return() while a wait is pending closes the steps and ends the iteration when the wait is over", async () => {
      let release = () => {};
      const log: string[] = [];
      function* steps(): Generator<Step, void> {
        try {
          yield ping(1);
          yield new Promise<void>((r) => {
            release = r;
          });
          yield ping(2);
        } finally {
          log.push("closed");
        }
      }
      const batches = new MockReplyIterator(async () => steps()).batches()[Symbol.asyncIterator]();
      await batches.next();
      const pending = batches.next();
      await batches.return?.();
      expect(log).toEqual(["closed"]);
      release();
      expect(await pending).toEqual({ done: true, value: undefined });
    });
  });
});
