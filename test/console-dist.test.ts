import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONSOLE_DIR, consoleSourceHash } from "../console/source-hash.ts";

describe("console/dist", () => {
  it("was built from the current console sources (else run `npm run build:console` and commit dist/)", () => {
    const recorded = readFileSync(join(CONSOLE_DIR, "dist", "source-hash.txt"), "utf8").trim();
    expect(recorded).toBe(consoleSourceHash());
  });
});
