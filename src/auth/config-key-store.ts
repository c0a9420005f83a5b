import type { KeyConfig } from "../config/index.ts";
import { hashKey, sameHash } from "./hash.ts";
import type { KeyStore, Principal } from "./principal.ts";

interface StoredKey {
  hash: Buffer;
  principal: Principal;
}

/** Keys from the config file, held only as SHA-256 hashes. */
export class ConfigKeyStore implements KeyStore {
  private readonly byHash = new Map<string, StoredKey>();

  /** `hashedKeys` are keys known only by their SHA-256 (hex), such as the bootstrap key. */
  constructor(keys: KeyConfig[], hashedKeys: { hash: string; name: string }[] = []) {
    for (const h of hashedKeys) {
      this.byHash.set(h.hash, {
        hash: Buffer.from(h.hash, "hex"),
        principal: { keyId: "bootstrap", name: h.name, models: ["*"], limits: {} },
      });
    }
    keys.forEach((k, i) => {
      const hash = hashKey(k.key);
      this.byHash.set(hash.toString("hex"), {
        hash,
        principal: {
          keyId: `config_${i}`,
          name: k.name ?? `config key ${i}`,
          workspaceId: k.workspace,
          models: k.models ?? ["*"],
          limits: {
            rpm: k.rpm,
            tpm: k.tpm,
            input_tpm: k.input_tpm,
            output_tpm: k.output_tpm,
            monthly_tokens: k.monthly_tokens,
          },
        },
      });
    });
  }

  get size(): number {
    return this.byHash.size;
  }

  async authenticate(presentedKey: string): Promise<Principal | undefined> {
    const hash = hashKey(presentedKey);
    const stored = this.byHash.get(hash.toString("hex"));
    return stored && sameHash(stored.hash, hash) ? stored.principal : undefined;
  }
}
