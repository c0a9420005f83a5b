/**
 * Session-aware prompt cache: replays a Claude Code session (a capture from
 * ../shared/wire/captures, elided texts filled back to their recorded lengths, extended with
 * more tool rounds) on the llama backend with side requests between the main turns (a title,
 * a quota probe, a sub-agent), twice in one run: with `X-Claude-Code-Session-Id` (pinning)
 * and without (longest-prefix choice alone). Prints, per main turn, the share of the prompt
 * read from the cache.
 *
 *   npm run bench:session [-- --capture FILE.jsonl] [--turns 6] [--parallel 2]
 */
import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildConfig } from "../src/config/index.ts";
import { startServer } from "../src/server/index.ts";

const { values: args } = parseArgs({
  options: {
    capture: { type: "string", default: "claude-code-2.1.332-interactive.jsonl" },
    turns: { type: "string", default: "6" },
    parallel: { type: "string", default: "2" },
  },
});
const SHARED = resolve(process.env.PARLEY_SHARED_DIR ?? join(import.meta.dirname, "../../shared"));
const MODEL = resolve(process.env.PARLEY_MODELS_DIR ?? join(SHARED, "models"), "llama-2-tiny-random.gguf");
const KEY = "sk-bench-session-1";
const TURNS = Number(args.turns);

type Body = {
  model: string;
  max_tokens: number;
  messages: Message[];
  system?: unknown;
  tools?: unknown[];
} & Record<string, unknown>;
type Message = { role: string; content: unknown };

/** The capture's main-conversation requests (distinct by length), elided texts refilled. */
function mainTurns(file: string): { body: Body; headers: Record<string, string> }[] {
  const path = file.includes("/") ? file : join(SHARED, "wire/captures", file);
  const rows = readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { path: string; headers: Record<string, string>; body: Body });
  const seen = new Set<number>();
  return rows
    .filter((r) => r.path === "/v1/messages" && r.body?.messages)
    .filter((r) => !seen.has(r.body.messages.length) && seen.add(r.body.messages.length))
    .map((r) => {
      // Claude Code 2.1.332's `thinking.display: "updates"` is not in Parley's schema yet.
      const { thinking: _thinking, ...body } = refill(r.body) as Body;
      return { body: body as Body, headers: r.headers };
    });
}

/** Captures keep lengths, not texts ("<577 chars of text>"): deterministic words of that length. */
function refill(value: unknown): unknown {
  if (typeof value === "string") {
    const m = /^<(\d+) chars of text>$/.exec(value);
    return m ? words(Number(m[1]), Number(m[1])) : value;
  }
  if (Array.isArray(value)) return value.map(refill);
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, refill(v)]));
  return value;
}

/** Common English words, so the filler tokenizes about as densely as the prose it stands for. */
const VOCAB =
  "the of and to in is you that it for are with as be on not this but by from or have an they which one all were when we there can use your each how will other about out many then them these some would make like into time has look two more write see number way could people than first been call who its now find long down day did get come made may part file code tool read run test line change user model".split(
    " ",
  );

function words(chars: number, seed: number): string {
  const out: string[] = [];
  let n = 0;
  for (let i = 0; n < chars; i++) {
    const w = VOCAB[(seed * 31 + i * 7919) % VOCAB.length];
    out.push(w);
    n += w.length + 1;
  }
  return out.join(" ").slice(0, chars);
}

/** Turn i+1 of the main conversation: the last captured turn plus i more tool rounds. */
function extend(last: Body, rounds: number): Body {
  const messages = [...last.messages];
  for (let i = 0; i < rounds; i++) {
    const id = `toolu_bench_${i}`;
    messages.push({
      role: "assistant",
      content: [
        { type: "text", text: `Running step ${i}.` },
        {
          type: "tool_use",
          id,
          name: "Bash",
          input: { command: `cat src/part-${i}.ts`, description: "Read" },
        },
      ],
    });
    messages.push({
      role: "user",
      content: [{ type: "tool_result", tool_use_id: id, content: words(1200, 500 + i) }],
    });
  }
  return { ...last, messages };
}

/** What Claude Code sends beside its main conversation. */
const sideRequests = (model: string, turn: number): Body[] => [
  {
    model,
    max_tokens: 32,
    system: [
      {
        type: "text",
        text: `Generate a concise, sentence-case title (3-7 words) for the conversation. ${turn}`,
      },
    ],
    messages: [{ role: "user", content: `The user asked about part ${turn} of the repository.` }],
  },
  { model, max_tokens: 1, messages: [{ role: "user", content: "quota" }] },
  {
    model,
    max_tokens: 16,
    system: [{ type: "text", text: `You are a file search specialist. ${words(2000, 900 + turn)}` }],
    messages: [{ role: "user", content: `Find where part ${turn} is defined.` }],
  },
];

const config = buildConfig(
  {
    log_level: "warn",
    keys: [{ key: KEY, name: "bench" }],
    listen: { host: "127.0.0.1", port: 0 },
    data_dir: await mkdtemp(join(tmpdir(), "parley-bench-session-")),
    models: ["pinned", "unpinned"].map((id) => ({
      id,
      provider: "llama" as const,
      path: MODEL,
      context_window: 32768,
      max_output_tokens: 8,
      parallel: Number(args.parallel),
      max_queue: 16,
    })),
  },
  {},
  {},
  "bench",
);
const server = await startServer(config);

interface Usage {
  input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

async function send(body: Body, headers: Record<string, string>): Promise<Usage> {
  const res = await fetch(`${server.url}/v1/messages?beta=true`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-api-key": KEY,
      "anthropic-version": "2023-06-01",
      ...headers,
    },
    body: JSON.stringify({ ...body, stream: false }),
  });
  const json = (await res.json()) as { usage?: Usage; error?: { message: string } };
  if (!res.ok || !json.usage) throw new Error(`HTTP ${res.status}: ${json.error?.message}`);
  return json.usage;
}

/** One replay: main turns with the side requests after each; the cache share of every main turn. */
async function replay(
  model: string,
  session: string | undefined,
): Promise<{ share: number; tokens: number; ms: number }[]> {
  const captured = mainTurns(args.capture as string);
  const last = captured[captured.length - 1].body;
  const bodies = [...captured.map((c) => c.body)];
  for (let i = 1; bodies.length < TURNS; i++) bodies.push(extend(last, i));
  const headers: Record<string, string> = session ? { "x-claude-code-session-id": session } : {};
  const out: { share: number; tokens: number; ms: number }[] = [];
  for (const [turn, body] of bodies.slice(0, TURNS).entries()) {
    const t0 = performance.now();
    const u = await send({ ...body, model }, headers);
    const ms = performance.now() - t0;
    const tokens = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
    out.push({ share: u.cache_read_input_tokens / tokens, tokens, ms });
    for (const side of sideRequests(model, turn)) await send(side, headers);
  }
  return out;
}

console.log(
  `capture ${args.capture}, ${TURNS} main turns, ${args.parallel} slots, 3 side requests after each turn\n`,
);
const pinned = await replay("pinned", "bench-session-1");
const unpinned = await replay("unpinned", undefined);
await server.close();

const pct = (x: number) => `${(x * 100).toFixed(1)}%`.padStart(7);
console.log("turn  prompt   pinned: cached   ms     unpinned: cached   ms");
pinned.forEach((p, i) => {
  const u = unpinned[i];
  console.log(
    `${String(i + 1).padStart(4)}  ${String(p.tokens).padStart(6)}   ${pct(p.share)}  ${String(Math.round(p.ms)).padStart(6)}   ${pct(u.share)}  ${String(Math.round(u.ms)).padStart(6)}`,
  );
});
const after = (r: typeof pinned) => r.slice(1).map((x) => x.share);
const min = (xs: number[]) => Math.min(...xs);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(
  `\nturns after the first, share of the main prompt read from cache: pinned min ${pct(min(after(pinned)))} mean ${pct(mean(after(pinned)))}; unpinned min ${pct(min(after(unpinned)))} mean ${pct(mean(after(unpinned)))}`,
);
const time = (r: typeof pinned) => r.slice(1).reduce((a, b) => a + b.ms, 0);
console.log(
  `main-turn time after the first: unpinned / pinned = ${(time(unpinned) / time(pinned)).toFixed(2)}x`,
);
