import type { LlamaContext } from "node-llama-cpp";

/** Event-loop turns a decode step waits at most for the other generating sequences' tokens. */
const MAX_WAIT_TURNS = 8;

/**
 * A node-llama-cpp `batching.dispatchSchedule` that holds a decode step until every
 * sequence that is generating has queued its next token (or a few event-loop turns have
 * passed), so concurrent replies share one `llama_decode` per step instead of each paying a
 * pass over the weights on its own. node-llama-cpp's default ("nextCycle") dispatches on the
 * next turn, before sequences still sampling or running their token callbacks have queued.
 * `generating` says how many sequences are in a reply; `attach` gives the gate its context.
 */
export function decodeGate(generating: () => number) {
  let context: LlamaContext | undefined;
  const queued = () =>
    (context as unknown as { _queuedDecodeSequenceIds?: Set<number> } | undefined)?._queuedDecodeSequenceIds
      ?.size;
  const schedule = (dispatch: () => void) => {
    let turns = 0;
    const check = () => {
      const n = queued();
      // Unknown internals: behave like "nextCycle".
      if (n === undefined || n >= generating() || ++turns >= MAX_WAIT_TURNS) dispatch();
      else setImmediate(check);
    };
    setImmediate(check);
  };
  return {
    schedule,
    attach: (c: LlamaContext) => {
      context = c;
    },
  };
}
