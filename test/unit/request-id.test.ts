import { afterEach, describe, expect, it, vi } from "vitest";
import { newRequestId } from "../../src/protocol/index.ts";

/** Request ids start with the time, so usage rows keyed by them are appended to the index, not scattered. */
describe("newRequestId", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const at = (ms: number) => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(ms);
    return newRequestId();
  };

  it.each([
    [0, "00000000"],
    [9, "00000009"],
    [10, "0000000A"],
    [35, "0000000Z"],
    [36, "0000000a"],
    [61, "0000000z"],
    [62, "00000010"],
    [62 ** 7 - 1, "0zzzzzzz"],
    [62 ** 7, "10000000"],
    [Date.UTC(2026, 11, 3, 18, 0, 0), "0VclP0r2"],
  ])("at %d ms after 1970 starts with req_01%s", (ms, prefix) => {
    const id = at(ms);
    expect(id).toMatch(/^req_01[0-9A-Za-z]{22}$/);
    expect(id.slice(6, 14)).toBe(prefix);
  });

  it("sorts in the order the ids were made, across milliseconds", () => {
    const times = [
      1,
      35,
      36,
      61,
      62,
      1_000,
      Date.UTC(2026, 0, 1),
      Date.UTC(2026, 11, 3),
      Date.UTC(2099, 0, 1),
    ];
    const ids = times.map(at);
    expect([...ids].sort()).toEqual(ids);
  });

  it("keeps 14 random characters: ids of the same millisecond differ", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.UTC(2026, 11, 3));
    const ids = Array.from({ length: 1000 }, newRequestId);
    expect(new Set(ids).size).toBe(1000);
    expect(new Set(ids.map((id) => id.slice(0, 14))).size).toBe(1);
    expect(new Set(ids.map((id) => id.slice(14))).size).toBe(1000);
  });
});
