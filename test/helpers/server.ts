import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { pino } from "pino";
import { beforeEach } from "vitest";
import { buildConfig, type ConfigFile } from "../../src/config/index.ts";
import { type RunningServer, type StartOptions, startServer } from "../../src/server/index.ts";

export const TEST_KEY = "sk-test-key-0001";

/** `PARLEY_TEST_LOG=error` (any log level) shows the test servers' logs, to debug a failing test. */
const SHOWN_LOG_LEVEL = process.env.PARLEY_TEST_LOG as ConfigFile["log_level"] | undefined;
const TEST_LOG_LEVEL = SHOWN_LOG_LEVEL ?? "silent";

/**
 * Without PARLEY_TEST_LOG, the servers' error lines are kept here and printed only when the test
 * that produced them fails: a failure seen once in CI (a 500, say) then comes with its cause.
 */
const heldErrors: string[] = [];
const heldLogger = () => pino({ level: "error" }, { write: (line: string) => void heldErrors.push(line) });
beforeEach((ctx) => {
  ctx.onTestFailed(() => {
    if (heldErrors.length > 0)
      console.error(`server errors during "${ctx.task.name}":\n${heldErrors.join("")}`);
    heldErrors.length = 0;
  });
  ctx.onTestFinished(() => {
    if (ctx.task.result?.state !== "fail") heldErrors.length = 0;
  });
});

export interface TestServer extends RunningServer {
  /** An SDK client for the server, authenticated with TEST_KEY unless told otherwise. */
  client(options?: ConstructorParameters<typeof Anthropic>[0]): Anthropic;
  /** Raw fetch against the server with the test key and JSON headers. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  stop(): Promise<void>;
}

/**
 * Starts a real Parley server on 127.0.0.1 with a fresh data dir. `file` is a config object
 * as it would appear in parley.yaml; a test key and a mock model are added unless given.
 */
export async function startTestServer(
  file: ConfigFile = {},
  options: StartOptions = {},
): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "parley-test-"));
  const config = buildConfig(
    {
      log_level: TEST_LOG_LEVEL,
      keys: [{ key: TEST_KEY, name: "test" }],
      models: [{ id: "mock", provider: "mock" }],
      ...file,
      listen: { host: "127.0.0.1", port: 0, ...file.listen },
      data_dir: dataDir,
    },
    {},
    {},
    "test config",
  );
  // A test that sets its own level or logger keeps it (debug logging switches some checks on).
  const held = !options.logger && SHOWN_LOG_LEVEL === undefined && file.log_level === undefined;
  const logger = options.logger ?? (held ? heldLogger() : undefined);
  const server = await startServer(config, { ...options, ...(logger ? { logger } : {}) });
  return {
    ...server,
    client: (opts) => new Anthropic({ apiKey: TEST_KEY, baseURL: server.url, maxRetries: 0, ...opts }),
    post: (path, body, headers = {}) =>
      fetch(server.url + path, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-api-key": TEST_KEY,
          "anthropic-version": "2023-06-01",
          ...headers,
        },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    stop: async () => {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Parses an SSE body into its events, checking that every `event:` name matches the data's type. */
export function parseSse(text: string): { event: string; data: Record<string, unknown> }[] {
  return text
    .split("\n\n")
    .filter((frame) => frame.trim() !== "")
    .map((frame) => {
      const event = /^event: (.*)$/m.exec(frame)?.[1];
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      if (!event || !data) throw new Error(`malformed SSE frame: ${frame}`);
      const parsed = JSON.parse(data) as Record<string, unknown>;
      if (parsed.type !== event) throw new Error(`event ${event} carries type ${String(parsed.type)}`);
      return { event, data: parsed };
    });
}
