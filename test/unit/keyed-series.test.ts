import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { KeyedCounter, KeyedHistogram } from "../../src/metrics/keyed-series.ts";

type Labels = Record<string, string | number>;
const BUCKETS = [0.05, 0.1, 0.25, 1, 5];

/** The same observations through prom-client's own series and through the keyed ones. */
async function both(
  counts: [Labels, number][],
  observations: [Labels, number][],
): Promise<{ theirs: Registry; ours: Registry }> {
  const theirs = new Registry();
  const ours = new Registry();
  const help = "help text";
  const counter = new Counter({
    name: "t_total",
    help,
    labelNames: ["model", "status"],
    registers: [theirs],
  });
  const histogram = new Histogram({
    name: "t_seconds",
    help,
    labelNames: ["model", "streamed"],
    buckets: BUCKETS,
    registers: [theirs],
  });
  const keyedCounter = new KeyedCounter({
    name: "t_total",
    help,
    labelNames: ["model", "status"],
    registry: ours,
  });
  const keyedHistogram = new KeyedHistogram({
    name: "t_seconds",
    help,
    labelNames: ["model", "streamed"],
    buckets: BUCKETS,
    registry: ours,
  });
  for (const [labels, by] of counts) {
    counter.inc(labels, by);
    keyedCounter.inc([labels.model as string, labels.status as number], by);
  }
  for (const [labels, value] of observations) {
    histogram.observe(labels, value);
    keyedHistogram.observe([labels.model as string, labels.streamed as string], value);
  }
  return { theirs, ours };
}

describe("KeyedCounter and KeyedHistogram", () => {
  const a = { model: "mock", streamed: "false" };
  const b = { model: "big", streamed: "true" };
  it.each([
    { name: "nothing observed", counts: [], observations: [] },
    {
      name: "one series each",
      counts: [[{ model: "mock", status: 200 }, 1]],
      observations: [[a, 0.07]],
    },
    {
      name: "several series, in order of first sight, values on the bounds and past them",
      counts: [
        [{ model: "mock", status: 200 }, 1],
        [{ model: "mock", status: 529 }, 1],
        [{ model: "mock", status: 200 }, 40],
        [{ model: "other", status: 400 }, 2],
      ],
      observations: [
        [a, 0.05],
        [b, 0.0001],
        [a, 0.1000001],
        [b, 5],
        [a, 7.5],
        [a, 0],
      ],
    },
  ] as { name: string; counts: [Labels, number][]; observations: [Labels, number][] }[])(
    "print what prom-client prints: $name",
    async ({ counts, observations }) => {
      const { theirs, ours } = await both(counts, observations);
      expect(await ours.metrics()).toBe(await theirs.metrics());
      expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
    },
  );

  it("start from zero after a registry reset", async () => {
    const { theirs, ours } = await both([[{ model: "mock", status: 200 }, 3]], [[a, 0.2]]);
    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it("leave out a value that is not a number", async () => {
    const registry = new Registry();
    const h = new KeyedHistogram({
      name: "n_seconds",
      help: "h",
      labelNames: ["model"],
      buckets: BUCKETS,
      registry,
    });
    h.observe(["x"], Number.NaN);
    h.observe(["x"], 0.2);
    expect(await registry.metrics()).toContain('n_seconds_count{model="x"} 1');
  });
});
