import type { LlamaContext, LlamaContextSequence } from "node-llama-cpp";

type DecodeTokens = (
  request: { sequenceId: number; tokens: readonly unknown[] },
  ...rest: unknown[]
) => Promise<unknown>;
type EraseRanges = (...args: unknown[]) => Promise<void>;

/** A decode of more tokens than this is prompt processing, which keeps the loop (and lock) busy anyway. */
const STEP_TOKENS = 8;

/**
 * Lets a slot's cache edit in while other slots generate. node-llama-cpp's dispatch loop holds
 * the context lock for as long as decodes are queued, and with two or more replies generating
 * there always is one: each reply queues its next token while another's decodes. A new request
 * whose slot holds a different conversation must first erase those tokens, under the same lock,
 * so it waited until every running reply had ended (measured: of 4 concurrent requests, 2
 * started at once and 2 only after those finished, 1.3 s later, in every round after the first;
 * 4 streams then gave about one stream's tokens/s).
 *
 * So while a sequence waits to edit its cache, the other sequences' decodes are held back: the
 * queue drains after the decode in flight, the loop ends, the edit gets the lock, and then the
 * held decodes are queued, in one turn. The editing sequence's own decodes pass (an erase may
 * re-evaluate tokens, and its next decode means its edit is through the lock). While a prompt is
 * being decoded nothing is held: the loop keeps the lock until that prompt is read whatever the
 * others do, so holding them would only stall their replies for as long.
 */
export class CacheEdits {
  private readonly editing = new Set<number>();
  private held: (() => void)[] = [];
  private prompts = 0;

  /** Runs a decode now, or once no other sequence is waiting to edit its cache. */
  decode<T>(sequenceId: number, tokens: number, run: () => Promise<T>): Promise<T> {
    this.done(sequenceId); // a decode of the editing sequence means its edit is through the lock
    if (tokens > STEP_TOKENS) return this.prompt(run);
    if (!this.holding()) return run();
    return new Promise<T>((resolve, reject) => {
      this.held.push(() => run().then(resolve, reject));
    });
  }

  /** Runs a cache edit that needs the context lock; other sequences' decodes wait until it has it. */
  async edit<T>(sequenceId: number, run: () => Promise<T>): Promise<T> {
    this.editing.add(sequenceId);
    try {
      return await run();
    } finally {
      this.done(sequenceId);
    }
  }

  /** Routes a sequence's cache edits through `edit` (node-llama-cpp internals, like `prioritiseCacheEdits`). */
  watch(sequence: LlamaContextSequence): void {
    const internal = sequence as unknown as { _sequenceId?: unknown; _eraseContextTokenRanges?: EraseRanges };
    const erase = internal._eraseContextTokenRanges;
    const id = internal._sequenceId;
    if (typeof erase !== "function" || typeof id !== "number") return;
    // Every erase takes the context lock (`skipLock` only skips the evaluation lock of the
    // re-evaluation after it), so every one goes through `edit`.
    const edited: EraseRanges = (...args) => this.edit(id, () => erase.apply(sequence, args));
    internal._eraseContextTokenRanges = edited;
  }

  private prompt<T>(run: () => Promise<T>): Promise<T> {
    this.prompts++;
    this.release();
    const result = run();
    const ended = () => {
      this.prompts--;
    };
    result.then(ended, ended);
    return result;
  }

  private holding(): boolean {
    return this.editing.size > 0 && this.prompts === 0;
  }

  private done(sequenceId: number): void {
    if (this.editing.delete(sequenceId)) this.release();
  }

  /** Queues the held decodes, in one turn, once nothing is to be held any more. */
  private release(): void {
    if (this.holding() || this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    for (const queue of held) queue();
  }
}

/**
 * Routes the context's decodes through a `CacheEdits`. node-llama-cpp has no hook for this, so
 * its internal `_decodeTokens` is wrapped (as thread-policy.ts wraps the native batch calls); if
 * that ever changes shape this returns undefined and the context is left as it is.
 */
export function prioritiseCacheEdits(context: LlamaContext): CacheEdits | undefined {
  const internal = context as unknown as { _decodeTokens?: DecodeTokens };
  const original = internal._decodeTokens;
  if (typeof original !== "function") return undefined;
  const edits = new CacheEdits();
  const decodeTokens: DecodeTokens = (request, ...rest) =>
    edits.decode(request.sequenceId, request.tokens.length, () => original.call(context, request, ...rest));
  internal._decodeTokens = decodeTokens;
  return edits;
}
