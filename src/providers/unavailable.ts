import { modelUnavailable } from "../protocol/index.ts";
import type { Provider, ProviderStatus } from "./provider.ts";

/** A model that cannot serve; every request gets an api_error that says why and how to fix it. */
export class UnavailableProvider implements Provider {
  readonly kind: string;
  private readonly reason: string;

  constructor(kind: string, reason: string) {
    this.kind = kind;
    this.reason = reason;
  }

  status(): ProviderStatus {
    return { available: false, reason: this.reason };
  }

  // biome-ignore lint/correctness/useYield: fails before the first event by design
  async *stream(): AsyncIterable<never> {
    throw modelUnavailable(this.reason);
  }

  async countTokens(): Promise<number> {
    throw modelUnavailable(this.reason);
  }
}
