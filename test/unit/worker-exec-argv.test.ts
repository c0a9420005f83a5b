import { describe, expect, it } from "vitest";
import { workerExecArgv } from "../../src/store/sqlite-usage-writer.ts";

describe("workerExecArgv", () => {
  it.each([
    { argv: [], expected: undefined },
    { argv: ["--expose-gc", "--stack-size=2000", "--perf-basic-prof"], expected: undefined },
    { argv: ["--max-old-space-size=512", "--enable-source-maps"], expected: undefined },
    { argv: ["--input-type=module", "-e", "x"], expected: ["-e", "x"] },
    {
      argv: ["--input-type=module", "--max-old-space-size=512", "--max-semi-space-size=8", "--no-warnings"],
      expected: ["--no-warnings"],
    },
  ])("$argv → $expected", ({ argv, expected }) => {
    expect(workerExecArgv(argv)).toEqual(expected);
  });
});
