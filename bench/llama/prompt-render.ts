/**
 * What rendering a growing conversation costs the event loop on the llama backend: the prompt of
 * each turn rendered with the model's chat template and tokenized (as the provider does before
 * every request, to count it and choose a slot), with the model's own tokenizer (the baseline)
 * and with the remembering one the provider uses (src/providers/llama/tokenizer-memo.ts), in
 * the same run, with four chat templates. Both must give the same tokens; the bench stops if
 * they do not.
 *
 * Then the same for node-llama-cpp's LlamaChat, which tokenizes the context through
 * `model.tokenizer` several times per reply (the provider sets the remembering one there too):
 * time to first token of a reply to a ~7k-token ChatML conversation already in the cache, in
 * alternating rounds. The fixture's weights are tiny, so the figure is the tokenizing, not the
 * model.
 *
 *   node bench/llama/prompt-render.ts [--turns 40] [--words 400]
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  type ChatHistoryItem,
  ChatMLChatWrapper,
  type ChatWrapper,
  getLlama,
  Llama2ChatWrapper,
  Llama3_1ChatWrapper,
  LlamaChat,
  resolveChatWrapper,
  type Tokenizer,
} from "node-llama-cpp";
import { type RequestContext, toMessageRequest } from "../../src/protocol/index.ts";
import { renderPrompt } from "../../src/providers/llama/prompt.ts";
import { memoizedTokenizer } from "../../src/providers/llama/tokenizer-memo.ts";

const { values: args } = parseArgs({
  options: {
    turns: { type: "string", default: "40" },
    words: { type: "string", default: "400" },
    rounds: { type: "string", default: "5" },
  },
});
const TURNS = Number(args.turns);
const WORDS = Number(args.words);
const FIXTURE = resolve(
  process.env.PARLEY_MODELS_DIR ?? join(import.meta.dirname, "../../../shared/models"),
  "llama-2-tiny-random.gguf",
);

const llama = await getLlama({ build: "never", gpu: false });
const model = await llama.loadModel({ modelPath: FIXTURE });
const memo = memoizedTokenizer(model.tokenizer);
const context: RequestContext = { apiVersion: "2023-06-01", rawApiVersion: "2023-06-01", betas: [] };
const vocabulary = ["alpha", "river", "stone", "light", "cloud", "seven", "garden", "north"];
/** A message of WORDS words, different for each k. */
const paragraph = (k: number) =>
  Array.from({ length: WORDS }, (_, i) => `${vocabulary[(i * (k + 1)) % 8]}${(i + k) % 17}`).join(" ");

/**
 * The fixture's own template (General: plain text, no special tokens between messages, so a
 * turn's history is one text to tokenize and nothing repeats) and three that mark every message
 * with special tokens, as the templates of Qwen, Llama 3 and most chat models do.
 */
const templates: ChatWrapper[] = [
  resolveChatWrapper(model),
  new ChatMLChatWrapper(),
  new Llama3_1ChatWrapper(),
  new Llama2ChatWrapper(),
];

console.log(`model ${FIXTURE}, ${TURNS} turns of ${WORDS} words each way\n`);
for (const wrapper of templates) {
  console.log(`${wrapper.wrapperName}\nturn   tokens   own tokenizer ms   remembering ms   ratio`);
  const messages: { role: "user" | "assistant"; content: string }[] = [];
  let ownTotal = 0;
  let memoTotal = 0;
  for (let turn = 1; turn <= TURNS; turn++) {
    messages.push({ role: "user", content: paragraph(turn) });
    const req = toMessageRequest(
      { model: "m", max_tokens: 16, system: `You are a coding agent. ${paragraph(0)}`, messages },
      context,
    );
    let t = performance.now();
    const own = renderPrompt(req, wrapper, model.tokenizer).tokens;
    const ownMs = performance.now() - t;
    t = performance.now();
    const remembered = renderPrompt(req, wrapper, memo).tokens;
    const memoMs = performance.now() - t;
    if (own.length !== remembered.length || own.some((tok, i) => tok !== remembered[i]))
      throw new Error(
        `${wrapper.wrapperName}, turn ${turn}: the remembering tokenizer gave different tokens`,
      );
    ownTotal += ownMs;
    memoTotal += memoMs;
    if (turn === 1 || turn % Math.max(1, Math.floor(TURNS / 4)) === 0)
      console.log(
        `${String(turn).padStart(4)} ${String(own.length).padStart(8)} ${ownMs.toFixed(1).padStart(18)} ${memoMs.toFixed(1).padStart(16)} ${(memoMs / ownMs).toFixed(2).padStart(7)}`,
      );
    messages.push({ role: "assistant", content: paragraph(turn + 1000) });
  }
  console.log(
    `all turns: own tokenizer ${ownTotal.toFixed(0)} ms, remembering ${memoTotal.toFixed(0)} ms on the event loop (${(memoTotal / ownTotal).toFixed(2)}×)\n`,
  );
}
// ---- LlamaChat: a cached conversation's time to first token, own vs remembering tokenizer ----
// One thread: the few new tokens then decode in about a millisecond, and what is left is the tokenizing.
const llamaContext = await model.createContext({ contextSize: 8192, sequences: 1, threads: 1 });
const sequence = llamaContext.getSequence();
const history: ChatHistoryItem[] = [{ type: "system", text: paragraph(0).slice(0, 1000) }];
for (let turn = 1; history.length < 41; turn++)
  history.push(
    { type: "user", text: paragraph(turn).slice(0, 1000) },
    { type: "model", response: [paragraph(turn + 1000).slice(0, 1000)] },
  );
history.push({ type: "user", text: "Go on." }, { type: "model", response: [] });
const own = model.tokenizer;
const remembering = memoizedTokenizer(own);
const firstToken = async (tokenizer: Tokenizer) => {
  (model as { tokenizer: Tokenizer }).tokenizer = tokenizer;
  const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: new ChatMLChatWrapper() });
  const started = performance.now();
  let first = 0;
  await chat.generateResponse(history, {
    maxTokens: 1,
    temperature: 0,
    onToken: () => {
      first ||= performance.now() - started;
    },
  });
  chat.dispose({ disposeSequence: false });
  return first;
};
await firstToken(own); // evaluates the prompt once: every later round reads it from the cache
const times = { own: [] as number[], remembering: [] as number[] };
for (let round = 0; round < Number(args.rounds); round++) {
  for (const which of round % 2 ? (["remembering", "own"] as const) : (["own", "remembering"] as const))
    times[which].push(await firstToken(which === "own" ? own : remembering));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? 0;
console.log(
  `LlamaChat, ChatML, ${sequence.contextTokens.length} tokens cached, time to first token (median of ${args.rounds}): ` +
    `own tokenizer ${median(times.own).toFixed(1)} ms, remembering ${median(times.remembering).toFixed(1)} ms ` +
    `(${(median(times.remembering) / median(times.own)).toFixed(2)}×)`,
);
(model as { tokenizer: Tokenizer }).tokenizer = own;
await llamaContext.dispose();
await model.dispose();
