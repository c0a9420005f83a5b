import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import { RequestLogger } from "../../src/server/request-logger.ts";

function parentAt(level: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const parent = pino({ level }, sink);
  const child = vi.spyOn(parent, "child");
  return { parent, lines, child };
}

describe("RequestLogger", () => {
  it("makes no pino child while nothing passes the level", () => {
    const { parent, lines, child } = parentAt("warn");
    const log = new RequestLogger(parent, { reqId: "req_1" }, {});
    log.info({ a: 1 }, "message");
    log.debug("detail");
    log.trace("more");
    log.silent();
    expect(log.level).toBe("warn");
    expect(child).not.toHaveBeenCalled();
    expect(lines).toEqual([]);
  });

  it("makes the child once, on the first line that passes, with the request's bindings", () => {
    const { parent, lines, child } = parentAt("info");
    const log = new RequestLogger(parent, { reqId: "req_2" }, {});
    log.debug("below the level");
    log.info({ status: 200 }, "message");
    log.warn("plain %s", "text");
    log.error({ err: new Error("boom") }, "failed");
    expect(child).toHaveBeenCalledTimes(1);
    expect(child).toHaveBeenCalledWith({ reqId: "req_2" }, {});
    expect(lines.map((l) => [l.level, l.reqId, l.msg])).toEqual([
      [30, "req_2", "message"],
      [40, "req_2", "plain text"],
      [50, "req_2", "failed"],
    ]);
    expect(lines[0]?.status).toBe(200);
    expect(lines[2]).toMatchObject({ err: { message: "boom" } });
  });

  it("a level set on it applies to this request only", () => {
    const { parent, lines } = parentAt("warn");
    const log = new RequestLogger(parent, { reqId: "req_3" }, {});
    log.level = "debug";
    log.debug("now shown");
    expect(log.level).toBe("debug");
    expect(parent.level).toBe("warn");
    expect(lines.map((l) => [l.reqId, l.msg])).toEqual([["req_3", "now shown"]]);
  });

  it("a child of it carries both bindings", () => {
    const { parent, lines } = parentAt("info");
    const log = new RequestLogger(parent, { reqId: "req_4" }, {});
    log.child({ part: "tools" }).info("inner");
    expect(lines).toMatchObject([{ reqId: "req_4", part: "tools", msg: "inner" }]);
  });
});
