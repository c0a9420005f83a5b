import { hashKeyHex, type KeyStore, type Principal, sameHash } from "../auth/index.ts";
import type { KeyRepository } from "./keys.ts";

export interface KeyCacheOptions {
  /**
   * How long a lookup is trusted. Changes made on this instance apply at once; changes made on another
   * instance (or by the CLI) apply within this time, which is how revocation reaches every instance
   * within a second without a message bus.
   */
  ttlMs?: number;
  /** Most hashes remembered (good and bad keys); the oldest are dropped first. */
  maxEntries?: number;
}

interface Entry {
  principal: Principal | undefined;
  at: number;
}

/** Keys from the database, looked up by SHA-256 and cached briefly. */
export class DbKeyStore implements KeyStore {
  private readonly keys: KeyRepository;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly cache = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Principal | undefined>>();
  private generation = 0;

  constructor(keys: KeyRepository, options: KeyCacheOptions = {}) {
    this.keys = keys;
    this.ttlMs = options.ttlMs ?? 500;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  async authenticate(presentedKey: string): Promise<Principal | undefined> {
    const hex = hashKeyHex(presentedKey);
    const hit = this.cache.get(hex);
    if (hit && performance.now() - hit.at < this.ttlMs) return hit.principal;
    let lookup = this.pending.get(hex);
    if (!lookup) {
      lookup = this.lookup(hex).finally(() => this.pending.delete(hex));
      this.pending.set(hex, lookup);
    }
    return lookup;
  }

  /** Forgets every cached lookup (after a change made through this instance). */
  invalidate(): void {
    this.generation++;
    this.cache.clear();
  }

  private async lookup(hex: string): Promise<Principal | undefined> {
    const generation = this.generation;
    const at = performance.now();
    const found = await this.keys.findByHash(hex);
    let principal: Principal | undefined;
    if (
      found &&
      found.key.status === "active" &&
      !found.workspace_archived &&
      sameHash(Buffer.from(found.key_hash, "hex"), Buffer.from(hex, "hex"))
    ) {
      principal = {
        keyId: found.key.id,
        name: found.key.name,
        workspaceId: found.key.workspace_id ?? undefined,
        models: found.key.models,
        limits: found.key.limits,
        workspaceLimits: found.key.workspace_id ? found.workspace_limits : undefined,
        mcpAllowedHosts: found.key.mcp_allowed_hosts ?? undefined,
        workspaceMcpAllowedHosts: found.workspace_mcp_allowed_hosts,
      };
    }
    // A change made while this lookup ran may not be in its result: do not cache it.
    if (generation === this.generation) this.remember(hex, { principal, at });
    return principal;
  }

  private remember(hex: string, entry: Entry): void {
    this.cache.delete(hex);
    this.cache.set(hex, entry);
    if (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }
}
