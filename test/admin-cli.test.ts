import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerKeys } from "../src/cli/keys.ts";
import { Store } from "../src/store/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "parley-keys-cli-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function keys(...args: string[]): Promise<string> {
  let out = "";
  const program = new Command().exitOverride();
  registerKeys(program, (t) => {
    out += t;
  });
  await program.parseAsync(["keys", ...args, "--data-dir", dir], { from: "user" });
  return out;
}

describe("parley keys", () => {
  it("creates a key shown once, lists it by hint, and revokes it", async () => {
    const created = await keys("create", "--name", "laptop", "--models", "mock,claude-*", "--rpm", "5");
    const secret = /\n {4}(sk-parley-\S+)\n/.exec(created)?.[1] ?? "";
    const id = /Created API key (apikey_01\w+) \(laptop\)/.exec(created)?.[1] ?? "";
    expect(secret).not.toBe("");
    expect(id).not.toBe("");

    const listed = await keys("list");
    expect(listed).toMatch(/^ID\s+NAME\s+HINT\s+STATUS\s+WORKSPACE\s+LIMITS\s+CREATED\n/);
    expect(listed).toContain(`${secret.slice(0, 7)}...${secret.slice(-4)}`);
    expect(listed).toMatch(/laptop .* active .* rpm=5/);
    expect(listed).not.toContain(secret);

    const store = await Store.open(`sqlite:${join(dir, "parley.db")}`);
    try {
      expect(await store.keyStore.authenticate(secret)).toMatchObject({
        keyId: id,
        models: ["mock", "claude-*"],
      });
      expect(await keys("revoke", id)).toMatch(`Revoked ${id} (laptop)`);
      await new Promise((r) => setTimeout(r, 600));
      expect(await store.keyStore.authenticate(secret)).toBeUndefined();
    } finally {
      await store.close();
    }
    const json = JSON.parse(await keys("list", "--json", "--status", "archived")) as { id: string }[];
    expect(json.map((k) => k.id)).toEqual([id]);
  });

  it("rejects bad input with a clear message", async () => {
    await expect(keys("create", "--name", "x", "--rpm", "0")).rejects.toThrow(/not a positive whole number/);
    await expect(keys("create", "--name", "x", "--workspace", "nowhere")).rejects.toThrow(
      /no active workspace has the id or name 'nowhere'/,
    );
    await expect(keys("revoke", "apikey_missing")).rejects.toThrow(/no API key has the id 'apikey_missing'/);
  });
});
