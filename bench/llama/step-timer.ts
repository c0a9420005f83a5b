/**
 * Times the generation steps of node-llama-cpp contexts (bench:inference): how long each step's
 * decode takes on its libuv worker, and how long the context then waits before its next step is
 * dispatched. That wait is the token's sampling plus main-thread work: node-llama-cpp's own JS
 * (LlamaChat, the context's scheduling) and, for Parley, whatever of serving the token runs
 * before the next step goes out. Throughput figures on a shared 2-core VM move by ±10% from run
 * to run; these two split a step's time, so a side whose steps are slower shows where: in the
 * decode (the CPU, or another thread taking its core) or between steps (the main thread).
 *
 * It wraps `LlamaModel.prototype.createContext` and each new context's native `initBatch` and
 * `decodeBatch` with own properties (as Parley's thread split does, src/providers/llama/
 * thread-policy.ts, which wraps the same `initBatch` after this does). A step counts when it
 * decodes no more tokens than the context has sequences (generation, not a prompt).
 */
import { LlamaModel } from "node-llama-cpp";

interface NativeContext {
  initBatch(size: number): unknown;
  decodeBatch(...args: unknown[]): Promise<unknown>;
}

/** Sums over the generation steps of one side in one phase. */
export interface StepSums {
  steps: number;
  decodeMs: number;
  /** Steps that followed another of the same context within MAX_WAIT_MS, and their waits. */
  waits: number;
  waitMs: number;
}

const noSteps = (): StepSums => ({ steps: 0, decodeMs: 0, waits: 0, waitMs: 0 });

/** A longer wait between two steps is a new request, not the same reply's next token. */
const MAX_WAIT_MS = 50;

export class StepTimer {
  private creatingFor: string | undefined;
  private phase: string | undefined;
  private readonly sums = new Map<string, StepSums>();
  readonly installed: boolean;

  constructor() {
    const proto = LlamaModel.prototype as unknown as {
      createContext: (...args: unknown[]) => Promise<{ _ctx?: NativeContext; totalSequences: number }>;
    };
    const create = proto.createContext;
    if (typeof create !== "function") {
      this.installed = false;
      return;
    }
    const timer = this;
    proto.createContext = async function (this: unknown, ...args: unknown[]) {
      const context = await create.apply(this, args);
      if (timer.creatingFor !== undefined && context._ctx)
        timer.watch(context._ctx, context.totalSequences, timer.creatingFor);
      return context;
    };
    this.installed = true;
  }

  /** Contexts created inside `create` belong to `side`. */
  async creating<T>(side: string, create: () => Promise<T>): Promise<T> {
    this.creatingFor = side;
    try {
      return await create();
    } finally {
      this.creatingFor = undefined;
    }
  }

  /** Steps from now on count under `phase` (e.g. "4 streams"), until `phase(undefined)`. */
  setPhase(phase: string | undefined): void {
    this.phase = phase;
  }

  /** What was counted for `side` in `phase`, and zeroes it. */
  take(side: string, phase: string): StepSums {
    const key = `${side}|${phase}`;
    const sums = this.sums.get(key) ?? noSteps();
    this.sums.delete(key);
    return sums;
  }

  private watch(native: NativeContext, sequences: number, side: string): void {
    if (typeof native.initBatch !== "function" || typeof native.decodeBatch !== "function") return;
    const initBatch = native.initBatch.bind(native);
    const decodeBatch = native.decodeBatch.bind(native);
    let size = 0;
    let lastEnd = 0;
    try {
      Object.defineProperty(native, "initBatch", {
        configurable: true,
        writable: true,
        value: (n: number) => {
          size = n;
          return initBatch(n);
        },
      });
      Object.defineProperty(native, "decodeBatch", {
        configurable: true,
        writable: true,
        value: (...args: unknown[]) => {
          const started = performance.now();
          const phase = this.phase;
          const generating = size <= sequences;
          const waited = started - lastEnd;
          return Promise.resolve(decodeBatch(...args)).finally(() => {
            const ended = performance.now();
            if (phase !== undefined && generating) {
              const sums = this.sumsFor(side, phase);
              sums.steps++;
              sums.decodeMs += ended - started;
              if (lastEnd && waited < MAX_WAIT_MS) {
                sums.waits++;
                sums.waitMs += waited;
              }
            }
            lastEnd = generating ? ended : 0;
          });
        },
      });
    } catch {
      // The binding's shape changed: this context is not timed.
    }
  }

  private sumsFor(side: string, phase: string): StepSums {
    const key = `${side}|${phase}`;
    let sums = this.sums.get(key);
    if (!sums) {
      sums = noSteps();
      this.sums.set(key, sums);
    }
    return sums;
  }
}
