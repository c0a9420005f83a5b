export { type AppOptions, buildApp } from "./app.ts";
export type { AppDeps } from "./deps.ts";
export { type RunningServer, type StartOptions, startServer } from "./start.ts";
export {
  errorCode,
  StartupFailure,
  type StartupService,
  type StartupStep,
} from "./startup.ts";
