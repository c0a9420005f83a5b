/**
 * The usage buffer while the database is down: bounded, the newest records kept, the oldest
 * dropped a hundredth of the buffer at a time, one log line per outage, and everything still
 * held written once the database is back.
 */
import type { Kysely } from "kysely";
import { describe, expect, it } from "vitest";
import { BatchedUsageRecorder } from "../../src/store/index.ts";
import type { Database } from "../../src/store/schema.ts";
import { usageRecord } from "../helpers/usage-record.ts";

const record = (i: number) => usageRecord({ request_id: `req_${i}` });

describe("BatchedUsageRecorder with the database unreachable", () => {
  it("keeps the newest records within max_buffered and logs the outage once", async () => {
    let down = true;
    const written: string[] = [];
    const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
    const recorder = new BatchedUsageRecorder(undefined as unknown as Kysely<Database>, {
      maxBuffered: 1000,
      maxBatch: 100,
      flushIntervalMs: 60_000,
      logger: {
        warn: (obj, msg) => lines.push({ level: "warn", obj: obj as Record<string, unknown>, msg }),
        error: (obj, msg) => lines.push({ level: "error", obj: obj as Record<string, unknown>, msg }),
      },
      write: async (rows) => {
        if (down) throw new Error("connection refused");
        for (const r of rows) written.push(r.request_id as string);
      },
    });
    for (let i = 0; i < 5000; i++) recorder.record(record(i));
    await recorder.flush();

    const { pending, dropped } = recorder.stats();
    expect(pending + dropped).toBe(5000);
    // Never more than max_buffered; at most a hundredth of it below, right after a drop.
    expect(pending).toBeLessThanOrEqual(1000);
    expect(pending).toBeGreaterThan(990);
    const drops = lines.filter((l) => l.msg.startsWith("usage buffer full"));
    expect(drops).toHaveLength(1);
    expect(drops[0]?.obj).toMatchObject({ max_buffered: 1000 });

    down = false;
    await recorder.flush();
    // What was kept is the newest, in order, and it is all written.
    expect(written).toEqual(Array.from({ length: pending }, (_, i) => `req_${5000 - pending + i}`));
    expect(recorder.stats()).toMatchObject({ pending: 0, dropped });
    expect(lines.at(-1)).toMatchObject({
      level: "warn",
      msg: "usage records are being written again",
      obj: { dropped },
    });
    await recorder.close();
  });
});
