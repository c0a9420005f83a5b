/** The llama slot pool over several contexts: requests spread over contexts, threads only when alone. */
import type { LlamaContext, LlamaContextSequence, Token } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { slotShares } from "../../src/providers/llama/loaded-model.ts";
import { SlotPool } from "../../src/providers/llama/slot-pool.ts";
import {
  contextChoices,
  contextCount,
  splitThreads,
  WideBatchGate,
} from "../../src/providers/llama/thread-policy.ts";

/** A context whose sequences share nothing with any prompt (node-llama-cpp's surface the pool uses). */
function fakeContext(): LlamaContext {
  const sequence = { compareContextTokens: () => ({ firstDifferentIndex: 0 }) };
  return { getSequence: () => sequence as unknown as LlamaContextSequence } as unknown as LlamaContext;
}

const tokens = Array.from({ length: 100 }, (_, i) => i as Token);
const signal = new AbortController().signal;

describe("SlotPool over several contexts", () => {
  it("puts concurrent requests in different contexts while one is idle", async () => {
    const pool = new SlotPool(
      [
        { context: fakeContext(), slots: 2 },
        { context: fakeContext(), slots: 2 },
      ],
      8,
    );
    expect(pool.size).toBe(4);
    const contexts: number[] = [];
    for (let i = 0; i < 4; i++) contexts.push((await pool.acquire(tokens, signal)).slot.context);
    expect(contexts).toEqual([0, 1, 0, 1]);
  });

  it("knows when a context has the model to itself", async () => {
    const pool = new SlotPool(
      [
        { context: fakeContext(), slots: 1 },
        { context: fakeContext(), slots: 1 },
      ],
      8,
    );
    expect([pool.aloneIn(0), pool.aloneIn(1)]).toEqual([true, true]);
    const first = await pool.acquire(tokens, signal);
    expect([pool.aloneIn(0), pool.aloneIn(1)]).toEqual([true, false]);
    const second = await pool.acquire(tokens, signal);
    expect([pool.aloneIn(0), pool.aloneIn(1)]).toEqual([false, false]);
    first.release();
    second.release();
    expect([pool.aloneIn(0), pool.aloneIn(1)]).toEqual([true, true]);
  });
});

describe("contextCount", () => {
  it.each([
    ["2 cores, 1 thread each: two per core", { slots: 4, cores: 2, threads: 1, gpuLayers: 0 }, 4],
    ["2 cores, 8 slots: still two per core", { slots: 8, cores: 2, threads: 1, gpuLayers: 0 }, 4],
    ["1 core, 1 thread: two", { slots: 4, cores: 1, threads: 1, gpuLayers: 0 }, 2],
    ["3 cores, 1 thread: as many as slots", { slots: 4, cores: 3, threads: 1, gpuLayers: 0 }, 4],
    ["16 cores, 8 threads each: two, no sharing", { slots: 4, cores: 16, threads: 8, gpuLayers: 0 }, 2],
    ["4 cores, 2 threads each: two", { slots: 4, cores: 4, threads: 2, gpuLayers: 0 }, 2],
    ["threads as many as the cores: one", { slots: 4, cores: 4, threads: 4, gpuLayers: 0 }, 1],
    ["threads over the cores: one", { slots: 4, cores: 2, threads: 4, gpuLayers: 0 }, 1],
    ["never more contexts than slots", { slots: 1, cores: 8, threads: 1, gpuLayers: 0 }, 1],
    ["layers on a GPU: one", { slots: 4, cores: 2, threads: 1, gpuLayers: 33 }, 1],
    ["as configured", { configured: 3, slots: 4, cores: 2, threads: 1, gpuLayers: 33 }, 3],
  ])("%s", (_name, input, expected) => {
    expect(contextCount(input)).toBe(expected);
  });

  it.each([
    ["the default, then fewer", { slots: 4, cores: 2, threads: 1, gpuLayers: 0 }, [4, 3, 2, 1]],
    ["one slot: one", { slots: 1, cores: 2, threads: 1, gpuLayers: 0 }, [1]],
    ["a GPU: one", { slots: 4, cores: 2, threads: 1, gpuLayers: 33 }, [1]],
    ["configured: kept", { configured: 3, slots: 4, cores: 2, threads: 1, gpuLayers: 0 }, [3]],
    [
      "configured over the slots: the slots",
      { configured: 3, slots: 2, cores: 2, threads: 1, gpuLayers: 0 },
      [2],
    ],
  ])("contextChoices: %s", (_name, input, expected) => {
    expect(contextChoices(input)).toEqual(expected);
  });

  it.each([
    [4, 2, [2, 2]],
    [5, 2, [3, 2]],
    [3, 3, [1, 1, 1]],
    [4, 1, [4]],
  ])("slotShares(%i slots, %i contexts) = %j", (slots, contexts, expected) => {
    expect(slotShares(slots, contexts)).toEqual(expected);
  });
});

describe("splitThreads", () => {
  /**
   * A context whose native batch calls are recorded: the thread count each decode ran with, and
   * each decode that reached the binding; `finish` settles the oldest decode still running.
   */
  function nativeContext() {
    const threads: number[] = [];
    const decoded: number[] = [];
    const running: { resolve: () => void; reject: (err: Error) => void }[] = [];
    const native = {
      initBatch: (_size: number) => {},
      setThreads: (n: number) => threads.push(n),
      decodeBatch: () =>
        new Promise<void>((resolve, reject) => {
          decoded.push(threads.at(-1) ?? 0);
          running.push({ resolve, reject });
        }),
    };
    const finish = (err?: Error) => {
      const next = running.shift();
      if (err) next?.reject(err);
      else next?.resolve();
    };
    return { context: { _ctx: native } as unknown as LlamaContext, native, threads, decoded, finish };
  }
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  /**
   * Two contexts of one model sharing a gate: A (alone while `aAlone()` says so) starts a wide
   * batch of `size` tokens, then B, not alone, asks for a one-token step.
   */
  function wideThenHeld(size: number, aAlone: () => boolean = () => true) {
    const gate = new WideBatchGate();
    const a = nativeContext();
    const b = nativeContext();
    splitThreads(a.context, 1, 2, aAlone, gate);
    splitThreads(b.context, 1, 2, () => false, gate);
    a.native.initBatch(size);
    const wide = a.native.decodeBatch();
    b.native.initBatch(1);
    const held = b.native.decodeBatch();
    return { a, b, wide, held };
  }

  it("gives prompt batches every core only while the other contexts are idle", () => {
    const { context, native, threads } = nativeContext();
    let alone = true;
    expect(splitThreads(context, 1, 2, () => alone)).toBe(true);
    native.initBatch(512); // a prompt, the model to itself
    native.initBatch(1); // a lone sequence's step
    alone = false;
    native.initBatch(512); // a prompt while another context decodes
    native.initBatch(2); // a two-sequence step while another context decodes
    expect(threads).toEqual([2, 1, 1, 1]);
  });

  it("holds the other contexts' decodes while one decodes a batch on every core", async () => {
    let aAlone = true;
    // A prompt with the model to itself (both cores), and a request that arrived a moment later.
    const { a, b, wide, held } = wideThenHeld(512, () => aAlone);
    await turn();
    expect([a.decoded, b.decoded]).toEqual([[2], []]);
    a.finish();
    await wide;
    await turn();
    expect(b.decoded).toEqual([1]);
    // Not alone any more: A's next batch is narrow and neither context waits for the other.
    aAlone = false;
    a.native.initBatch(512);
    const narrow = a.native.decodeBatch();
    expect(a.decoded).toEqual([2, 1]);
    b.finish();
    a.finish();
    await Promise.all([held, narrow]);
  });

  it("lets the held decodes go when the wide batch fails, and hands its caller the error", async () => {
    const { a, b, wide, held } = wideThenHeld(64);
    a.finish(new Error("decode failed"));
    await expect(wide).rejects.toThrow("decode failed");
    await turn();
    expect(b.decoded).toEqual([1]);
    b.finish();
    await held;
  });

  it("lets a held decode run beside a wide batch that outlasts the hold", async () => {
    const { a, b, wide, held } = wideThenHeld(512); // a long prompt's batch, still running below
    await turn();
    expect(b.decoded).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(b.decoded).toEqual([1]);
    b.finish();
    a.finish();
    await Promise.all([held, wide]);
  });

  it("leaves the context alone when both counts are the same", () => {
    const { context, native, threads } = nativeContext();
    expect(splitThreads(context, 2, 2)).toBe(false);
    native.initBatch(512);
    expect(threads).toEqual([]);
  });
});
