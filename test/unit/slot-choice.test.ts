/** Which free llama slot a request gets: session pins first, side requests elsewhere, then longest prefix. */
import { describe, expect, it } from "vitest";
import { chooseSlot, continuesPin, type SlotCandidate } from "../../src/providers/llama/slot-choice.ts";

const slot = (
  reused: number,
  lastUsed: number,
  pinnedBy?: string,
  pinnedLength = 0,
  contextBusy = 0,
): SlotCandidate => ({ reused, contextBusy, lastUsed, pinnedBy, pinnedLength });
/** A free, unpinned slot whose context has `busy` slots at work. */
const inContext = (reused: number, lastUsed: number, busy: number) =>
  slot(reused, lastUsed, undefined, 0, busy);

describe("chooseSlot", () => {
  it.each([
    ["no session: the longest prefix", [slot(10, 1), slot(500, 2)], 600, undefined, 1],
    ["no session: least recently used on a tie", [slot(0, 5), slot(0, 2)], 600, undefined, 1],
    ["no session: an unpinned slot wins a tie", [slot(3, 1, "s", 900), slot(3, 2)], 600, undefined, 1],
    ["the main turn returns to its pinned slot", [slot(3, 1), slot(900, 2, "s", 950)], 1000, "s", 1],
    [
      "a short side request avoids the pinned slot though it shares the system prompt",
      [slot(0, 9), slot(400, 2, "s", 950)],
      420,
      "s",
      0,
    ],
    ["a side request avoids another session's pin", [slot(5, 1, "t", 800), slot(0, 9)], 100, "s", 1],
    ["a new session takes an unpinned slot", [slot(50, 1, "t", 800), slot(0, 9)], 2000, "s", 1],
    [
      "with only pinned slots free, the longest prefix",
      [slot(5, 1, "t", 800), slot(9, 9, "u", 800)],
      100,
      "s",
      1,
    ],
    [
      "the pin lost its prefix: longest prefix among the rest",
      [slot(10, 1, "s", 2000), slot(1500, 2)],
      2100,
      "s",
      1,
    ],
    ["no session: the idler context on a tie", [inContext(0, 1, 1), inContext(0, 5, 0)], 600, undefined, 1],
    [
      "a few shared template tokens do not outweigh a busy context",
      [inContext(12, 1, 1), inContext(0, 5, 0)],
      600,
      undefined,
      1,
    ],
    [
      "a real shared prefix outweighs a busy context",
      [inContext(400, 1, 1), inContext(0, 5, 0)],
      600,
      undefined,
      0,
    ],
    [
      "equally busy contexts: the longer of two short prefixes",
      [inContext(12, 1, 1), inContext(3, 5, 1)],
      600,
      undefined,
      0,
    ],
  ])("%s", (_name, free, length, session, expected) => {
    expect(chooseSlot(free, length, session)).toBe(expected);
  });

  it.each([
    [900, 1000, 950, true],
    [400, 420, 950, false],
    [900, 700, 950, false],
    [300, 1000, 950, true],
    [200, 1000, 950, false],
  ])("continuesPin(reused %i, length %i, pinned %i) = %s", (reused, length, pinned, expected) => {
    expect(continuesPin(slot(reused, 0, "s", pinned), length)).toBe(expected);
  });
});
