import type { Capabilities, ModelConfig } from "../config/index.ts";
import type { Provider } from "../providers/index.ts";
import { ConcurrencyGate } from "./gate.ts";

export interface ModelEntry {
  config: ModelConfig;
  provider: Provider;
  gate: ConcurrencyGate;
  capabilities: Required<Capabilities>;
  createdAt: string;
  /** The model that writes this one's compaction summaries (`context_management.compaction_model`). */
  compactor?: ModelEntry;
}

const DEFAULT_CREATED_AT = "2025-01-01T00:00:00Z";

/** Capabilities a provider kind has unless the config says otherwise. */
const PROVIDER_CAPABILITIES: Record<ModelConfig["provider"], Required<Capabilities>> = {
  mock: { tools: true, vision: true, thinking: true, json_schema: true },
  llama: { tools: true, vision: false, thinking: true, json_schema: true },
  openai: { tools: true, vision: true, thinking: true, json_schema: true },
  anthropic: { tools: true, vision: true, thinking: true, json_schema: true },
};

/** Every model Parley serves, found by id or alias, listed in config order. */
export class ModelCatalog {
  private readonly byName = new Map<string, ModelEntry>();
  readonly entries: ModelEntry[];

  constructor(models: { config: ModelConfig; provider: Provider }[]) {
    this.entries = models.map(({ config, provider }) => ({
      config,
      provider,
      gate: new ConcurrencyGate(config.parallel ?? Number.POSITIVE_INFINITY, config.max_queue ?? 256),
      capabilities: { ...PROVIDER_CAPABILITIES[config.provider], ...config.capabilities },
      createdAt: config.created_at ?? DEFAULT_CREATED_AT,
    }));
    for (const e of this.entries) {
      for (const name of [e.config.id, ...(e.config.aliases ?? [])]) this.byName.set(name, e);
    }
    for (const e of this.entries) {
      const compactor = e.config.context_management?.compaction_model;
      if (compactor) e.compactor = this.byName.get(compactor);
    }
  }

  find(name: string): ModelEntry | undefined {
    return this.byName.get(name);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.entries.map((e) => e.provider.close?.()));
  }
}
