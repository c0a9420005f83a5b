import { describe, expect, it } from "vitest";
import { StopSequenceMatcher } from "../../src/protocol/index.ts";

function run(sequences: string[], chunks: string[]) {
  const m = new StopSequenceMatcher(sequences);
  let out = "";
  for (const c of chunks) {
    const r = m.push(c);
    out += r.emit;
    if (r.stopped) return { out, stopped: r.stopped };
  }
  return { out: out + m.flush(), stopped: undefined };
}

describe("StopSequenceMatcher", () => {
  it.each([
    { seqs: [], chunks: ["a", "b"], out: "ab", stopped: undefined },
    { seqs: ["END"], chunks: ["hello ", "END", " more"], out: "hello ", stopped: "END" },
    { seqs: ["END"], chunks: ["hello E", "N", "D!"], out: "hello ", stopped: "END" },
    { seqs: ["END"], chunks: ["hello E", "N", "d"], out: "hello ENd", stopped: undefined },
    { seqs: ["xyz", "y"], chunks: ["axyz"], out: "a", stopped: "xyz" },
    { seqs: ["\n\nHuman:"], chunks: ["ok\n", "\nHu", "man: hi"], out: "ok", stopped: "\n\nHuman:" },
    { seqs: ["abc"], chunks: ["ab", "ab", "c"], out: "ab", stopped: "abc" },
    { seqs: [""], chunks: ["a"], out: "a", stopped: undefined },
  ])("$seqs over $chunks", ({ seqs, chunks, out, stopped }) => {
    expect(run(seqs, chunks)).toEqual({ out, stopped });
  });

  it("holds back only a possible prefix", () => {
    const m = new StopSequenceMatcher(["STOP"]);
    expect(m.push("abcST")).toEqual({ emit: "abc" });
    expect(m.push("x")).toEqual({ emit: "STx" });
  });
});
