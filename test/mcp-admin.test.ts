/** `mcp_allowed_hosts` on keys and workspaces, set through the admin API, narrowing `mcp.allowed_hosts`. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerKeys } from "../src/cli/keys.ts";
import { createLimiter } from "../src/limits/index.ts";
import { adminRoutes } from "../src/server/admin/index.ts";
import { Store } from "../src/store/index.ts";
import { type FakeMcpServer, startFakeMcpServer } from "./fakes/mcp-server.ts";
import { databaseKinds, openTestDatabase, type TestDatabase } from "./helpers/databases.ts";
import { startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

const ADMIN_KEY = "sk-admin-test-0001";

describe.each(databaseKinds)("mcp_allowed_hosts on %s", (kind) => {
  let tdb: TestDatabase;
  let store: Store;
  let server: TestServer;
  let mcp: FakeMcpServer;

  beforeAll(async () => {
    mcp = await startFakeMcpServer();
    tdb = await openTestDatabase(kind);
    store = await Store.open(tdb.url, { configKeys: [{ key: TEST_KEY, name: "test" }] });
    server = await startTestServer(
      { admin_keys: [ADMIN_KEY], mcp: { allowed_hosts: ["127.0.0.1", "mcp.example.com"] } },
      {
        keyStore: store.keyStore,
        limiter: await createLimiter("memory"),
        plugins: [adminRoutes({ store, adminKeys: [ADMIN_KEY], keyStore: store.keyStore })],
      },
    );
  });
  afterAll(async () => {
    await server?.stop();
    await store?.close();
    await tdb?.drop();
    await mcp?.close();
  });

  const admin = async (path: string, body: unknown) => {
    const res = await server.post(path, body, { "x-api-key": ADMIN_KEY });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const askWith = async (key: string) => {
    const res = await fetch(`${server.url}/v1/messages?beta=true`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-key": key,
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "mcp-client-2025-11-20",
      },
      body: JSON.stringify({
        model: "mock",
        max_tokens: 100,
        mcp_servers: [{ type: "url", url: `${mcp.origin}/mcp`, name: "docs" }],
        tools: [{ type: "mcp_toolset", mcp_server_name: "docs" }],
        messages: [{ role: "user", content: '[[mcp:docs/add {"a":1,"b":2}]]' }],
      }),
    });
    return { status: res.status, text: await res.text() };
  };

  it("narrows by workspace and by key, and clears with null", async () => {
    const ws = await admin("/v1/organizations/workspaces", {
      name: "mcp-ws",
      mcp_allowed_hosts: ["mcp.example.com"],
    });
    expect(ws.status).toBe(200);
    expect(ws.body.mcp_allowed_hosts).toEqual(["mcp.example.com"]);
    const created = await admin("/v1/organizations/api_keys", { name: "mcp-key", workspace_id: ws.body.id });
    expect(created.body.mcp_allowed_hosts).toBeNull();
    const key = created.body.key as string;

    let reply = await askWith(key);
    expect(reply.status).toBe(400);
    expect(reply.text).toMatch(/this workspace's mcp_allowed_hosts/);

    await admin(`/v1/organizations/workspaces/${ws.body.id}`, { mcp_allowed_hosts: null });
    reply = await askWith(key);
    expect(reply.status).toBe(200);
    expect(reply.text).toContain('"mcp_tool_result"');

    const narrowed = await admin(`/v1/organizations/api_keys/${created.body.id}`, {
      mcp_allowed_hosts: ["mcp.example.com"],
    });
    expect(narrowed.body.mcp_allowed_hosts).toEqual(["mcp.example.com"]);
    reply = await askWith(key);
    expect(reply.status).toBe(400);
    expect(reply.text).toMatch(/this API key's mcp_allowed_hosts/);

    await admin(`/v1/organizations/api_keys/${created.body.id}`, { mcp_allowed_hosts: ["127.0.0.1"] });
    expect((await askWith(key)).status).toBe(200);
  });

  it("refuses an entry that is not a host or host:port", async () => {
    const res = await admin("/v1/organizations/workspaces", {
      name: "bad",
      mcp_allowed_hosts: ["http://x/"],
    });
    expect(res.status).toBe(400);
  });
});

describe("parley keys create --mcp-allowed-hosts", () => {
  it("stores the narrowing list and refuses an entry that is not a host", async () => {
    const dir = await mkdtemp(join(tmpdir(), "parley-mcp-cli-"));
    const keys = async (...args: string[]) => {
      let out = "";
      const program = new Command().exitOverride();
      registerKeys(program, (t) => {
        out += t;
      });
      await program.parseAsync(["keys", ...args, "--data-dir", dir], { from: "user" });
      return out;
    };
    try {
      const created = JSON.parse(
        await keys(
          "create",
          "--name",
          "m",
          "--mcp-allowed-hosts",
          "mcp.example.com, 127.0.0.1:8931",
          "--json",
        ),
      ) as { key: string; mcp_allowed_hosts: string[] };
      expect(created.mcp_allowed_hosts).toEqual(["mcp.example.com", "127.0.0.1:8931"]);
      const store = await Store.open(`sqlite:${join(dir, "parley.db")}`);
      try {
        expect(await store.keyStore.authenticate(created.key)).toMatchObject({
          mcpAllowedHosts: ["mcp.example.com", "127.0.0.1:8931"],
        });
      } finally {
        await store.close();
      }
      await expect(keys("create", "--name", "x", "--mcp-allowed-hosts", "http://x/")).rejects.toThrow(
        /not a host or host:port/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
