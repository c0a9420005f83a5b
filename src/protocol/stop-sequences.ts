export interface StopResult {
  /** Text safe to send now. */
  emit: string;
  /** The stop sequence that ended the reply, if one did (the text before it is in `emit`). */
  stopped?: string;
}

/**
 * Finds stop sequences in generated text as it streams, across chunk and token boundaries.
 * Text that could still be the start of a stop sequence is held back until it cannot be.
 */
export class StopSequenceMatcher {
  private held = "";
  private readonly sequences: string[];

  constructor(sequences: string[]) {
    this.sequences = sequences.filter((s) => s !== "");
  }

  push(text: string): StopResult {
    if (this.sequences.length === 0) return { emit: text };
    const buf = this.held + text;
    let best: { at: number; seq: string } | undefined;
    for (const seq of this.sequences) {
      const at = buf.indexOf(seq);
      if (at >= 0 && (!best || at < best.at)) best = { at, seq };
    }
    if (best) {
      this.held = "";
      return { emit: buf.slice(0, best.at), stopped: best.seq };
    }
    const keep = this.partialSuffix(buf);
    this.held = buf.slice(buf.length - keep);
    return { emit: buf.slice(0, buf.length - keep) };
  }

  /** The held-back text, at the end of generation. */
  flush(): string {
    const rest = this.held;
    this.held = "";
    return rest;
  }

  /** Length of the longest suffix of `buf` that is a proper prefix of some stop sequence. */
  private partialSuffix(buf: string): number {
    let longest = 0;
    for (const seq of this.sequences) {
      for (let n = Math.min(seq.length - 1, buf.length); n > longest; n--) {
        if (buf.endsWith(seq.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}
