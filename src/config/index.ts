export {
  buildConfig,
  CLAUDE_CODE_ALIAS,
  ConfigError,
  type ConfigOverrides,
  defaultModels,
  expandEnv,
  loadConfig,
} from "./load.ts";
export * from "./schema.ts";
