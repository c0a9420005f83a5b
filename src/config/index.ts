export {
  buildConfig,
  ConfigError,
  type ConfigOverrides,
  defaultModels,
  expandEnv,
  loadConfig,
} from "./load.ts";
export * from "./schema.ts";
