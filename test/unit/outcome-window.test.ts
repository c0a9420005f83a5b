import { describe, expect, it } from "vitest";
import { OutcomeWindow } from "../../src/providers/upstream/outcome-window.ts";

/** The window as it was: an array of pairs, expired ones and any beyond 512 dropped from the front. */
class ArrayWindow {
  outcomes: [number, boolean][] = [];
  private readonly spanMs: number;
  constructor(spanMs: number) {
    this.spanMs = spanMs;
  }
  add(now: number, failed: boolean): void {
    this.outcomes.push([now, failed]);
    const since = now - this.spanMs;
    let drop = 0;
    while (drop < this.outcomes.length && this.outcomes[drop][0] < since) drop++;
    drop = Math.max(drop, this.outcomes.length - 512);
    if (drop > 0) this.outcomes.splice(0, drop);
  }
}

describe("OutcomeWindow", () => {
  it.each([
    { name: "empty", adds: [], size: 0, failed: 0 },
    {
      name: "within the span",
      adds: [
        [0, true],
        [500, false],
        [999, true],
      ],
      size: 3,
      failed: 2,
    },
    {
      name: "older than the span leave",
      adds: [
        [0, true],
        [1, true],
        [1002, false],
      ],
      size: 1,
      failed: 0,
    },
    {
      name: "exactly at the span's edge stays",
      adds: [
        [0, true],
        [1000, false],
      ],
      size: 2,
      failed: 1,
    },
  ] as { name: string; adds: [number, boolean][]; size: number; failed: number }[])(
    "$name",
    ({ adds, size, failed }) => {
      const w = new OutcomeWindow(1000);
      for (const [t, f] of adds) w.add(t, f);
      expect([w.size, w.failed]).toEqual([size, failed]);
    },
  );

  it("holds at most 512 outcomes, dropping the oldest", () => {
    const w = new OutcomeWindow(1e9);
    for (let i = 0; i < 600; i++) w.add(i, i < 100);
    // The first 88 failures were dropped; failures 88..99 remain.
    expect([w.size, w.failed]).toEqual([512, 12]);
  });

  it("clear empties it", () => {
    const w = new OutcomeWindow(1000);
    w.add(0, true);
    w.clear();
    w.add(1, false);
    expect([w.size, w.failed]).toEqual([1, 0]);
  });

  it("counts as the array of pairs did, over long random runs that wrap the ring", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const span of [50, 1000, 100_000]) {
      const ring = new OutcomeWindow(span);
      const array = new ArrayWindow(span);
      let now = 0;
      for (let i = 0; i < 5000; i++) {
        now += random() < 0.1 ? Math.floor(random() * 200) : Math.floor(random() * 3);
        const failed = random() < 0.3;
        ring.add(now, failed);
        array.add(now, failed);
        const failedInArray = array.outcomes.filter(([, f]) => f).length;
        if (ring.size !== array.outcomes.length || ring.failed !== failedInArray)
          expect({ i, size: ring.size, failed: ring.failed }).toEqual({
            i,
            size: array.outcomes.length,
            failed: failedInArray,
          });
      }
    }
  });
});
