import { createHash } from "node:crypto";
import type { McpToolListingEntry } from "../protocol/index.ts";

interface Entry {
  tools: McpToolListingEntry[];
  expires: number;
}

/**
 * Tool lists remembered briefly across requests, keyed by URL and a hash of the token (two
 * callers with different tokens may see different tools; the token itself is never kept).
 */
export class ToolListCache {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  constructor(ttlMs: number, maxEntries = 1000) {
    this.ttlMs = ttlMs;
    this.maxEntries = maxEntries;
  }

  static key(url: URL, token: string | undefined): string {
    const tokenHash = createHash("sha256")
      .update(token ?? "")
      .digest("hex");
    return `${url.href}\n${tokenHash}`;
  }

  get(key: string): McpToolListingEntry[] | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (performance.now() >= hit.expires) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.tools;
  }

  set(key: string, tools: McpToolListingEntry[]): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { tools, expires: performance.now() + this.ttlMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
