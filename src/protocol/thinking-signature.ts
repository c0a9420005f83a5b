import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { invalidRequest } from "./errors.ts";
import type { Turn } from "./request.ts";

const SECRET_FILE = "thinking-signature.key";
const VERSION = "p1";

/**
 * Signs thinking blocks a model returned, so a client that sends them back can be checked:
 * `p1.` + base64url(HMAC-SHA256(secret, thinking)). The secret lives in the data dir, so
 * signatures survive restarts and are shared by instances that share the data dir.
 */
export class ThinkingSigner {
  private readonly secret: Buffer;

  constructor(secret: Buffer) {
    if (secret.length < 32) throw new Error("thinking signature secret must be at least 32 bytes");
    this.secret = secret;
  }

  /** Reads `<dataDir>/thinking-signature.key`, creating it (mode 0600) on first use. */
  static async fromDataDir(dataDir: string): Promise<ThinkingSigner> {
    const path = join(dataDir, SECRET_FILE);
    try {
      return new ThinkingSigner(Buffer.from((await readFile(path, "utf8")).trim(), "base64"));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    await mkdir(dataDir, { recursive: true });
    const secret = randomBytes(32);
    try {
      await writeFile(path, `${secret.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
      return new ThinkingSigner(secret);
    } catch (err) {
      // Another instance created it first: use theirs.
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return ThinkingSigner.fromDataDir(dataDir);
      throw err;
    }
  }

  sign(thinking: string): string {
    return `${VERSION}.${this.mac(thinking).toString("base64url")}`;
  }

  verify(thinking: string, signature: string): boolean {
    if (!signature.startsWith(`${VERSION}.`)) return false;
    const given = Buffer.from(signature.slice(VERSION.length + 1), "base64url");
    const expected = this.mac(thinking);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /**
   * Checks the thinking blocks a client sent back. One signed by Parley that does not verify was
   * tampered with: the hosted API's 400. One signed elsewhere (the hosted API, a capture server)
   * cannot be checked here, so it is dropped rather than shown to the model as trusted reasoning.
   */
  verifiedTurns(turns: readonly Turn[]): Turn[] {
    return turns.map((turn, i) => {
      if (!turn.content.some((b) => b.type === "thinking")) return turn;
      const content = turn.content.filter((block, j) => {
        if (block.type !== "thinking") return true;
        if (!block.signature.startsWith(`${VERSION}.`)) return false;
        if (this.verify(block.thinking, block.signature)) return true;
        throw invalidRequest(`messages.${i}.content.${j}: Invalid \`signature\` in \`thinking\` block`);
      });
      return { ...turn, content };
    });
  }

  private mac(thinking: string): Buffer {
    return createHmac("sha256", this.secret).update(thinking, "utf8").digest();
  }
}
