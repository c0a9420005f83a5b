import type { Command } from "commander";
import { ConfigError, loadConfig } from "../config/index.ts";
import { describeRetry } from "./startup-errors.ts";

interface ServeFlags {
  config?: string;
  host?: string;
  port?: string;
  dataDir?: string;
}

export function registerServe(program: Command): void {
  program
    .command("serve", { isDefault: true })
    .description("serve the Claude Messages API")
    .option("-c, --config <file>", "YAML or JSON config file (env PARLEY_CONFIG)")
    .option("--host <host>", "address to listen on (env PARLEY_HOST; default 127.0.0.1)")
    .option("-p, --port <port>", "port to listen on (env PARLEY_PORT; default 8787)")
    .option("--data-dir <dir>", "where Parley keeps its data (env PARLEY_DATA_DIR; default ./.parley)")
    .action(async (flags: ServeFlags) => {
      await serve(flags);
    });
}

async function serve(flags: ServeFlags): Promise<void> {
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new ConfigError(`--port: '${flags.port}' is not a port number`);
  }
  const config = await loadConfig({ config: flags.config, host: flags.host, port, dataDir: flags.dataDir });
  // Loaded here, not at the top: other commands (keys, models, claude) start without the server and node-llama-cpp.
  const { startServer } = await import("../server/index.ts");
  const server = await startServer(config, {
    onStartupRetry: (failure, next, attempts, delayMs) =>
      process.stderr.write(`parley: ${describeRetry(failure, next, attempts, delayMs)}\n`),
  });
  const log = server.app.log;
  log.info(
    { url: server.url, config: config.source, models: config.models.map((m) => m.id) },
    "parley listening",
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down: finishing in-flight replies");
    server.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  watchParent(process.env.PARLEY_STOP_WITH_PID, stop);
}

/** A server started for one `parley claude` session stops when that launcher is gone, even killed. */
function watchParent(pid: string | undefined, stop: (why: string) => void): void {
  if (!pid) return;
  const timer = setInterval(() => {
    try {
      process.kill(Number(pid), 0);
    } catch {
      clearInterval(timer);
      stop("launcher exited");
    }
  }, 1_000);
  timer.unref();
}
