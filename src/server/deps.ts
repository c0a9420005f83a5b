import type { KeyStore } from "../auth/index.ts";
import type { Config } from "../config/index.ts";
import type { Limiter } from "../limits/index.ts";
import type { Metrics } from "../metrics/index.ts";
import type { ThinkingSigner } from "../protocol/index.ts";
import type { ModelCatalog } from "../router/index.ts";
import type { MessageService } from "../service/index.ts";
import type { UsageRecorder } from "../store/index.ts";
import type { McpConnector } from "../tools/index.ts";
import type { BatchServices } from "./routes/batches.ts";
import type { FileServices } from "./routes/files.ts";

/** Everything the HTTP layer needs, built once at start (see start.ts). */
export interface AppDeps {
  config: Config;
  catalog: ModelCatalog;
  keyStore: KeyStore;
  limiter: Limiter;
  recorder: UsageRecorder;
  /** Verifies thinking blocks that clients send back to a model that signed them. */
  signer: ThinkingSigner;
  /** The MCP connector's shared state (allowlist, tool-list cache, HTTP agents). */
  mcp: McpConnector;
  /** Generations in flight, aborted when a graceful shutdown runs out of time. */
  inflight: Set<AbortController>;
  /** The one message path (protocol → router → provider → usage), shared with batches. */
  messages: MessageService;
  /** Message batches and the Files API; present when the server has a store. */
  batches?: BatchServices;
  files?: FileServices;
  /** This instance's Prometheus registry; absent when `metrics.enabled` is false. */
  metrics?: Metrics;
  /** The database `/ready` pings; absent when a caller brings its own key store and no store. */
  store?: { ping(): Promise<void> };
}
