import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const src = (path: string) => JSON.stringify(new URL(`../../src/${path}`, import.meta.url).href);

/**
 * In a child Node with V8's natives syntax: compile the Messages body validator as start-up does,
 * then report whether two objects built the same way from `{}` (as Fastify builds each reply's
 * header object) share a map, before and after the collection.
 */
const SCRIPT = `
const { compileValidator } = await import(${src("protocol/validate.ts")});
const { MessageCreateParams } = await import(${src("protocol/schema/index.ts")});
const { collectStartupGarbage } = await import(${src("server/startup-gc.ts")});
const { runInNewContext } = await import("node:vm");
const sameMap = (key) => {
  const a = {};
  a[key] = "req_1";
  const b = {};
  b[key] = "req_2";
  return %HaveSameMap(a, b);
};
compileValidator(MessageCreateParams);
const before = sameMap("x-first-header");
collectStartupGarbage();
const after = sameMap("x-second-header");
console.log(JSON.stringify({ before, after, gcLeftExposed: runInNewContext("typeof gc") !== "undefined" }));
`;

describe("collectStartupGarbage", () => {
  it("lets objects built from {} share a map again once validator compilation filled the root map's transitions", async () => {
    const { stdout } = await run(process.execPath, [
      "--allow-natives-syntax",
      "--input-type=module",
      "-e",
      SCRIPT,
    ]);
    // `before` documents why the collection exists: should V8 stop running out of transitions, it turns true.
    expect(JSON.parse(stdout)).toEqual({ before: false, after: true, gcLeftExposed: false });
  });
});
