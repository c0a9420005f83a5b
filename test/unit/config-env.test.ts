import { describe, expect, it } from "vitest";
import { buildConfig, ConfigError } from "../../src/config/index.ts";

describe("PARLEY_ADMIN_KEY", () => {
  it("adds an admin key to those of the file, so the console can be opened without one", () => {
    const file = { admin_keys: ["sk-admin-from-file-01"] };
    expect(buildConfig(file, {}, { PARLEY_ADMIN_KEY: "sk-admin-from-env-02" }).admin_keys).toEqual([
      "sk-admin-from-file-01",
      "sk-admin-from-env-02",
    ]);
    expect(buildConfig({}, {}, {}).admin_keys).toEqual([]);
    const same = { admin_keys: ["sk-admin-from-env-02"] };
    expect(buildConfig(same, {}, { PARLEY_ADMIN_KEY: "sk-admin-from-env-02" }).admin_keys).toEqual([
      "sk-admin-from-env-02",
    ]);
    expect(buildConfig({}, {}, { PARLEY_ADMIN_KEY: "" }).admin_keys).toEqual([]);
  });

  it("refuses a key shorter than 8 characters, naming the variable", () => {
    expect(() => buildConfig({}, {}, { PARLEY_ADMIN_KEY: "short" })).toThrow(ConfigError);
    expect(() => buildConfig({}, {}, { PARLEY_ADMIN_KEY: "short" })).toThrow(
      /PARLEY_ADMIN_KEY: must be at least 8/,
    );
  });
});
