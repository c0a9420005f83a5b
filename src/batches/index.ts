export { type Clock, ManualClock, systemClock } from "./clock.ts";
export { type BatchCreateRequest, checkBatchRequests } from "./create.ts";
export {
  type Batch,
  BatchRepository,
  type ClaimedRequest,
  type NewBatchRequest,
  type Visibility,
} from "./repository.ts";
export { batchObject } from "./serialize.ts";
export { BatchWorker, type BatchWorkerDeps, type BatchWorkerOptions, erroredResult } from "./worker.ts";
