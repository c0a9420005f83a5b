import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

const COLOURS = ["#2f6fdf", "#d9480f", "#2b8a3e", "#ae3ec9", "#e67700", "#1098ad", "#c2255c", "#5c940d"];

export interface Series {
  label: string;
  values: number[];
}

/** A uPlot time-series chart that fills its container's width. `times` are epoch seconds. */
export function Chart({ title, times, series }: { title: string; times: number[]; series: Series[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = () => Math.max(280, el.clientWidth);
    const plot = new uPlot(
      {
        title,
        width: width(),
        height: 220,
        series: [
          {},
          ...series.map((s, i) => ({
            label: s.label,
            stroke: COLOURS[i % COLOURS.length],
            fill: `${COLOURS[i % COLOURS.length]}22`,
            width: 2,
          })),
        ],
        axes: [{}, { size: 60 }],
      },
      [times, ...series.map((s) => s.values)],
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: width(), height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [title, times, series]);
  return <div class="chart" ref={box} role="img" aria-label={title} />;
}
