import { describe, expect, it } from "vitest";
import { checkUrl, hostPolicy, isPublicAddress, parseHostEntry } from "../../src/tools/index.ts";

describe("MCP allowlist entries", () => {
  it.each([
    ["mcp.example.com", { host: "mcp.example.com" }],
    ["MCP.Example.com:8931", { host: "mcp.example.com", port: 8931 }],
    ["127.0.0.1:8931", { host: "127.0.0.1", port: 8931 }],
    ["[::1]:8931", { host: "::1", port: 8931 }],
    ["[::1]", { host: "::1" }],
    ["::1", { host: "::1" }],
  ])("parses %s", (entry, parsed) => {
    expect(parseHostEntry(entry)).toEqual(parsed);
  });

  it.each(["http://x", "a b", "host:0", "host:70000"])("rejects %s", (entry) => {
    expect(() => parseHostEntry(entry)).toThrow();
  });
});

describe("public addresses", () => {
  it.each([
    ["127.0.0.1", false],
    ["127.8.9.10", false],
    ["0.0.0.0", false],
    ["10.0.0.1", false],
    ["172.16.5.4", false],
    ["172.32.0.1", true],
    ["192.168.1.1", false],
    ["169.254.169.254", false],
    ["100.64.0.1", false],
    ["224.0.0.1", false],
    ["255.255.255.255", false],
    ["8.8.8.8", true],
    ["::1", false],
    ["::", false],
    ["::ffff:127.0.0.1", false],
    ["::ffff:8.8.8.8", false],
    ["fe80::1", false],
    ["fd12:3456::1", false],
    ["2606:4700:4700::1111", true],
    ["not-an-ip", false],
  ])("%s is public: %s", (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe("checkUrl", () => {
  const open = hostPolicy(undefined);
  const listed = hostPolicy(["127.0.0.1:8931", "mcp.example.com"]);

  it("without an allowlist refuses loopback by address and by a name that resolves to it", async () => {
    await expect(checkUrl(new URL("http://127.0.0.1:8931/mcp"), open)).rejects.toThrow(
      /loopback, link-local or private/,
    );
    await expect(checkUrl(new URL("http://localhost:8931/mcp"), open)).rejects.toThrow(
      /localhost resolves to/,
    );
    await expect(checkUrl(new URL("http://[::1]/mcp"), open)).rejects.toThrow(/::1/);
  });

  it("accepts only listed hosts, with the port when the entry names one", async () => {
    await expect(checkUrl(new URL("http://127.0.0.1:8931/mcp"), listed)).resolves.toBeUndefined();
    await expect(checkUrl(new URL("http://127.0.0.1:8932/mcp"), listed)).rejects.toThrow(
      /not in the server's mcp.allowed_hosts/,
    );
    await expect(checkUrl(new URL("https://mcp.example.com:4443/x"), listed)).resolves.toBeUndefined();
  });

  it("lets a key or workspace only narrow the server's list", async () => {
    const narrowed = hostPolicy(
      ["127.0.0.1", "mcp.example.com"],
      [
        { who: "this API key", hosts: ["mcp.example.com"] },
        { who: "this workspace", hosts: undefined },
      ],
    );
    await expect(checkUrl(new URL("https://mcp.example.com/"), narrowed)).resolves.toBeUndefined();
    await expect(checkUrl(new URL("http://127.0.0.1:1/"), narrowed)).rejects.toThrow(
      /this API key's mcp_allowed_hosts/,
    );
    const noGlobal = hostPolicy(undefined, [{ who: "this workspace", hosts: ["127.0.0.1"] }]);
    await expect(checkUrl(new URL("http://127.0.0.1/"), noGlobal)).rejects.toThrow(/private address/);
  });

  it("refuses other schemes and credentials in the URL", async () => {
    await expect(checkUrl(new URL("file:///etc/passwd"), listed)).rejects.toThrow(/only http and https/);
    await expect(checkUrl(new URL("http://u:p@127.0.0.1:8931/"), listed)).rejects.toThrow(/credentials/);
  });
});
