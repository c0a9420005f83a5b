import type { LookupAddress } from "node:dns";
import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

/** One allowlist entry: a host (any port) or `host:port`. */
export interface HostEntry {
  host: string;
  port?: number;
}

/**
 * Which MCP URLs may be reached. With a server-wide allowlist only its hosts may be; without one,
 * any host whose every address is public. A key's or workspace's list can only narrow that.
 */
export interface HostPolicy {
  allowed?: HostEntry[];
  narrowing: { who: string; entries: HostEntry[] }[];
}

/** Why a URL is refused; the message is safe to show the client (no token, no internals). */
export class RefusedUrl extends Error {
  override name = "RefusedUrl";
}

/** Parses `host`, `host:port`, `[v6]` or `[v6]:port`; a bare IPv6 literal is a host. Throws on junk. */
export function parseHostEntry(entry: string): HostEntry {
  const text = entry.trim().toLowerCase();
  const v6 = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/.exec(text);
  if (v6) return withPort(v6[1], v6[2], entry);
  if (isIP(text) === 6) return { host: text };
  const m = /^([a-z0-9.-]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) throw new Error(`'${entry}' is not a host or host:port`);
  return withPort(m[1], m[2], entry);
}

function withPort(host: string, port: string | undefined, entry: string): HostEntry {
  if (port === undefined) return { host };
  const n = Number(port);
  if (n < 1 || n > 65535) throw new Error(`'${entry}' has no valid port`);
  return { host, port: n };
}

export function hostPolicy(
  allowed: string[] | undefined,
  narrowing: { who: string; hosts: string[] | undefined }[] = [],
): HostPolicy {
  return {
    allowed: allowed?.map(parseHostEntry),
    narrowing: narrowing.flatMap((n) =>
      n.hosts ? [{ who: n.who, entries: n.hosts.map(parseHostEntry) }] : [],
    ),
  };
}

/** The URL's host as allowlists write it: lower case, IPv6 without brackets. */
export function urlHost(url: URL): { host: string; port: number } {
  const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  return { host, port };
}

const matches = (entries: HostEntry[], host: string, port: number) =>
  entries.some((e) => e.host === host && (e.port === undefined || e.port === port));

/**
 * Refuses (throws `RefusedUrl`) a URL the policy does not allow. Without a server-wide allowlist
 * the host is resolved here and every address must be public, so a name pointing at loopback or a
 * private network is refused before any connection is opened.
 */
export async function checkUrl(url: URL, policy: HostPolicy): Promise<void> {
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new RefusedUrl(`only http and https URLs are supported, not ${url.protocol}`);
  }
  if (url.username || url.password) throw new RefusedUrl("credentials in the URL are not allowed");
  const { host, port } = urlHost(url);
  if (policy.allowed && !matches(policy.allowed, host, port)) {
    throw new RefusedUrl(`${host}:${port} is not in the server's mcp.allowed_hosts`);
  }
  for (const n of policy.narrowing) {
    if (!matches(n.entries, host, port))
      throw new RefusedUrl(`${host}:${port} is not in ${n.who}'s mcp_allowed_hosts`);
  }
  if (policy.allowed) return;
  const addresses = await resolveAll(host);
  const inner = addresses.find((a) => !isPublicAddress(a.address));
  if (inner) {
    throw new RefusedUrl(
      `${host} resolves to ${inner.address}, a loopback, link-local or private address; list the host in mcp.allowed_hosts to allow it`,
    );
  }
}

async function resolveAll(host: string): Promise<LookupAddress[]> {
  if (isIP(host)) return [{ address: host, family: isIP(host) }];
  try {
    return await lookup(host, { all: true, verbatim: true });
  } catch (err) {
    throw new RefusedUrl(`${host} cannot be resolved (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/**
 * Loopback, "this network", private, CGNAT, link-local, benchmark, multicast and reserved ranges.
 * Two lists, because a BlockList matches IPv4 addresses against IPv4-mapped IPv6 rules too.
 */
const inner4 = new BlockList();
const inner6 = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  inner4.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::", 128],
  ["::1", 128],
  ["::ffff:0:0", 96], // IPv4-mapped: refused whatever the IPv4 address, rather than decoded
  ["64:ff9b::", 96], // NAT64
  ["100::", 64],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
] as const)
  inner6.addSubnet(net, bits, "ipv6");

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return family === 4 ? !inner4.check(address, "ipv4") : !inner6.check(address, "ipv6");
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for sockets that refuses non-public addresses at connect time, so a name that
 * resolves differently between the check and the connection (DNS rebinding) still cannot reach inside.
 */
export function publicOnlyLookup(
  hostname: string,
  options: { all?: boolean; family?: number | "IPv4" | "IPv6" },
  callback: LookupCallback,
): void {
  const family = options.family === "IPv4" ? 4 : options.family === "IPv6" ? 6 : options.family;
  lookup(hostname, { all: true, verbatim: true }).then(
    (addresses) => {
      const bad = addresses.find((a) => !isPublicAddress(a.address));
      if (bad || addresses.length === 0) {
        const err: NodeJS.ErrnoException = new Error(`MCP host ${hostname} resolves to a non-public address`);
        err.code = "EACCES";
        callback(err, "");
        return;
      }
      const wanted = family ? addresses.filter((a) => a.family === family) : addresses;
      if (options.all) callback(null, wanted);
      else
        callback(null, wanted[0]?.address ?? addresses[0].address, wanted[0]?.family ?? addresses[0].family);
    },
    (err: NodeJS.ErrnoException) => callback(err, ""),
  );
}
