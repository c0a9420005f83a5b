export type { BatchSource, LiveSources } from "./live-state.ts";
export { Metrics } from "./metrics.ts";
export type { RequestMetrics, RequestObservation } from "./request-metrics.ts";
