import { describe, expect, it } from "vitest";
import { ConcurrencyGate } from "../../src/router/index.ts";

describe("ConcurrencyGate priorities", () => {
  it("gives background work a slot only while one is free and no interactive request waits", async () => {
    const gate = new ConcurrencyGate(2, 8);
    const a = await gate.acquire();
    expect(gate.idle).toBe(true);
    const bg = await gate.acquireBackground();
    expect(gate.idle).toBe(false);
    expect(gate.backgroundActive).toBe(1);
    bg.release();
    a();
    expect(gate.active).toBe(0);
  });

  it("an interactive request that finds every slot taken preempts the newest background holder", async () => {
    const gate = new ConcurrencyGate(2, 8);
    const older = await gate.acquireBackground();
    const newer = await gate.acquireBackground();
    let granted = false;
    const waiting = gate.acquire().then((r) => {
      granted = true;
      return r;
    });
    expect(newer.preempted.aborted).toBe(true);
    expect(older.preempted.aborted).toBe(false);
    await Promise.resolve();
    expect(granted).toBe(false);
    newer.release();
    const release = await waiting;
    expect(granted).toBe(true);
    expect(gate.active).toBe(2);
    release();
    older.release();
  });

  it("queued background work waits behind interactive waiters", async () => {
    const gate = new ConcurrencyGate(1, 8);
    const first = await gate.acquire();
    const order: string[] = [];
    const bg = gate.acquireBackground().then((s) => {
      order.push("background");
      s.release();
    });
    const fg = gate.acquire().then((r) => {
      order.push("interactive");
      r();
    });
    first();
    await Promise.all([bg, fg]);
    expect(order).toEqual(["interactive", "background"]);
  });

  it("keeps the slots recent interactive load used out of background work's reach", async () => {
    const gate = new ConcurrencyGate(4, 8);
    expect(gate.backgroundRoom).toBe(4);
    const a = await gate.acquire();
    const b = await gate.acquire();
    a();
    b();
    // Two ran at once a moment ago: they keep two slots even while idle between requests.
    expect(gate.backgroundRoom).toBe(2);
    const bg = await gate.acquireBackground();
    expect(gate.backgroundRoom).toBe(1);
    bg.release();
  });

  it("interactive requests never preempt each other", async () => {
    const gate = new ConcurrencyGate(1, 8);
    const first = await gate.acquire();
    const second = gate.acquire();
    expect(gate.queued).toBe(1);
    first();
    (await second)();
  });
});
