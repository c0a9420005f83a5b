/**
 * fast-check arbitraries for test/fuzz.test.ts: valid Messages API request bodies (the kinds real
 * clients send) and mutations that make them invalid in one known way, each with the status the
 * hosted API gives for it.
 */
import fc from "fast-check";

export type Body = Record<string, unknown>;

/** One way to break a valid body, and the reply that break must get. */
export interface Mutation {
  label: string;
  status: 400 | 404;
  mutate: (body: Body) => void;
}

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

/** Prompt text: not blank (the API refuses whitespace-only text); `[[` starts a mock directive. */
const text = fc
  .string({ unit: "grapheme", minLength: 1, maxLength: 40 })
  .filter((s) => /\S/.test(s) && !s.includes("[["));
const cacheControl = fc.record(
  { type: fc.constant("ephemeral"), ttl: fc.constantFrom("5m", "1h") },
  { requiredKeys: ["type"] },
);
const textBlock = fc.record(
  { type: fc.constant("text"), text, cache_control: cacheControl },
  { requiredKeys: ["type", "text"] },
);
const content = fc.oneof(text, fc.array(textBlock, { minLength: 1, maxLength: 3 }));

const conversation = fc
  .record({
    history: fc.array(fc.tuple(content, content), { maxLength: 3 }),
    last: content,
    system: optional(text),
    // A final assistant turn may not end in whitespace.
    prefill: optional(text.filter((s) => s === s.trimEnd())),
  })
  .map(({ history, last, system, prefill }) => {
    const messages: Body[] = history.flatMap(([user, assistant]) => [
      { role: "user", content: user },
      { role: "assistant", content: assistant },
    ]);
    messages.push({ role: "user", content: last });
    // Claude Code sends a mid-conversation system message, sometimes as the last one.
    if (system !== undefined) messages.push({ role: "system", content: system });
    if (prefill !== undefined) messages.push({ role: "assistant", content: prefill });
    return messages;
  });

const propertySchema = fc.constantFrom<Body>(
  { type: "string" },
  { type: "string", enum: ["a", "b"] },
  { type: "integer", minimum: 0, maximum: 10 },
  { type: "number" },
  { type: "boolean" },
  { type: "array", items: { type: "string" }, maxItems: 3 },
);
const inputSchema = fc
  .dictionary(fc.stringMatching(/^[a-z]{1,8}$/), propertySchema, { maxKeys: 3 })
  .chain((properties) =>
    fc.subarray(Object.keys(properties)).map((required) => ({ type: "object", properties, required })),
  );
const tool = fc.record(
  { name: fc.stringMatching(/^[a-zA-Z0-9_-]{1,24}$/), description: text, input_schema: inputSchema },
  { requiredKeys: ["name", "input_schema"] },
);
const tools = fc.uniqueArray(tool, { selector: (t) => t.name, maxLength: 3 });

const toolsAndChoice = tools.chain((ts) => {
  const choices: fc.Arbitrary<Body | undefined>[] = [
    fc.constant(undefined),
    fc.record(
      { type: fc.constant("auto"), disable_parallel_tool_use: fc.boolean() },
      { requiredKeys: ["type"] },
    ),
    fc.constant({ type: "none" }),
  ];
  if (ts.length > 0) {
    choices.push(
      fc.constant({ type: "any" }),
      fc.constantFrom(...ts.map((t) => ({ type: "tool", name: t.name }))),
    );
  }
  return fc.record({ tools: fc.constant(ts.length ? ts : undefined), tool_choice: fc.oneof(...choices) });
});

const thinking = fc.oneof(
  fc.constant({ type: "disabled" }),
  fc.record(
    { type: fc.constant("adaptive"), display: fc.constantFrom("summarized", "omitted", "updates", "later") },
    { requiredKeys: ["type"] },
  ),
  fc.record({ type: fc.constant("enabled"), budget_tokens: fc.integer({ min: 1024, max: 1100 }) }),
);

const unitInterval = fc.double({ min: 0, max: 1, noNaN: true });
const stopSequence = fc
  .string({ minLength: 1, maxLength: 5 })
  .filter((s) => /\S/.test(s) && !s.includes("[["));

/** Fields both create and count_tokens take, all optional. */
const promptExtras = fc.record(
  {
    system: fc.oneof(text, fc.array(textBlock, { minLength: 1, maxLength: 2 })),
    thinking,
    output_config: fc.record({ effort: fc.constantFrom("low", "medium", "high", "xhigh", "max") }),
    context_management: fc.constant({ edits: [{ type: "clear_thinking_20251015", keep: "all" }] }),
    speed: fc.constantFrom("standard", "fast"),
  },
  { requiredKeys: [] },
);

const createExtras = fc.record(
  {
    stream: fc.boolean(),
    stop_sequences: fc.array(stopSequence, { maxLength: 3 }),
    temperature: unitInterval,
    top_p: unitInterval,
    top_k: fc.nat(500),
    metadata: fc.record({ user_id: fc.option(fc.string({ maxLength: 40 })) }),
    service_tier: fc.constantFrom("auto", "standard_only"),
  },
  { requiredKeys: [] },
);

/** Fields no version of the API knows: accepted and ignored. */
const unknownFields = fc.dictionary(
  fc.stringMatching(/^x_[a-z_]{1,10}$/),
  // The JSON parser refuses `__proto__` keys (prototype poisoning), wherever they are.
  fc.jsonValue({ maxDepth: 3 }).filter((v) => !JSON.stringify(v).includes('"__proto__"')),
  { maxKeys: 2 },
);

/** A valid POST /v1/messages body for the model `mock`. */
export const validCreate: fc.Arbitrary<Body> = fc
  .record({
    messages: conversation,
    max_tokens: fc.integer({ min: 0, max: 64 }),
    toolsAndChoice,
    prompt: promptExtras,
    create: createExtras,
    unknown: unknownFields,
  })
  .map(({ messages, max_tokens, toolsAndChoice, prompt, create, unknown }) => {
    const body: Body = {
      ...unknown,
      model: "mock",
      max_tokens,
      messages,
      ...toolsAndChoice,
      ...prompt,
      ...create,
    };
    const choice = toolsAndChoice.tool_choice?.type;
    const think = prompt.thinking as { type: string; budget_tokens?: number } | undefined;
    // Forcing a tool rules thinking out, and a thinking budget must stay under max_tokens.
    if ((choice === "any" || choice === "tool") && think && think.type !== "disabled") delete body.thinking;
    else if (think?.budget_tokens) body.max_tokens = think.budget_tokens + 1 + max_tokens;
    return JSON.parse(JSON.stringify(body)) as Body;
  });

const CREATE_ONLY = [
  "max_tokens",
  "stream",
  "stop_sequences",
  "temperature",
  "top_p",
  "top_k",
  "metadata",
  "service_tier",
];

/** A valid POST /v1/messages/count_tokens body: the prompt fields of a create body. */
export const validCount: fc.Arbitrary<Body> = validCreate.map((body) => {
  const out = { ...body };
  for (const field of CREATE_ONLY) delete out[field];
  return out;
});

// Values of the wrong JSON type for a field, null left out for optional fields (clients send it).
const smallObject = fc.dictionary(fc.stringMatching(/^[a-z]{1,5}$/), fc.integer(), { maxKeys: 2 });
const notString = fc.oneof(fc.integer(), fc.boolean(), fc.array(fc.integer(), { maxLength: 2 }), smallObject);
const notInteger = fc.oneof(
  fc.string({ maxLength: 5 }),
  fc.boolean(),
  fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }),
  fc.array(fc.integer(), { maxLength: 2 }),
  smallObject,
);
const notArray = fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.boolean(), smallObject);
const notBoolean = fc.oneof(
  fc.string({ maxLength: 5 }),
  fc.integer(),
  fc.array(fc.boolean(), { maxLength: 2 }),
  smallObject,
);
const notObject = fc.oneof(
  fc.string({ maxLength: 5 }),
  fc.integer(),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 2 }),
);
const outOfUnit = fc.oneof(
  fc.double({ min: 1, minExcluded: true, noNaN: true, noDefaultInfinity: true }),
  // Not maxExcluded: that still allows -0, which JSON writes as 0.
  fc.double({ max: -Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 5 }),
);
/** A string none of the given values equal. */
const otherString = (...known: string[]) => fc.string({ maxLength: 12 }).filter((s) => !known.includes(s));

const short = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
};

const setField = (field: string, values: fc.Arbitrary<unknown>, status: 400 | 404 = 400) =>
  values.map<Mutation>((v) => ({
    label: `${field} = ${short(v)}`,
    status,
    mutate: (b) => {
      b[field] = v;
    },
  }));

const drop = (field: string): fc.Arbitrary<Mutation> =>
  fc.constant({
    label: `without ${field}`,
    status: 400,
    mutate: (b) => {
      delete b[field];
    },
  });

/** Changes the first message (always a user turn, never the final assistant one). */
const firstMessage = (label: string, values: fc.Arbitrary<unknown>, change: (m: Body, v: unknown) => void) =>
  values.map<Mutation>((v) => ({
    label: `${label} ${short(v)}`,
    status: 400,
    mutate: (b) => change((b.messages as Body[])[0], v),
  }));

const badBlock = fc.oneof(
  fc.stringMatching(/^zz_[a-z_]{1,12}$/).map((type) => ({ type, text: "hi" })),
  fc.constant({ type: "text" }),
  notString.map((t) => ({ type: "text", text: t })),
  otherString("image/jpeg", "image/png", "image/gif", "image/webp").map((media_type) => ({
    type: "image",
    source: { type: "base64", media_type, data: "aGk=" },
  })),
  fc.constant({ type: "image" }),
  fc.constant({ type: "tool_result", tool_use_id: "toolu_nobody_asked", content: "x" }),
  fc.constant({ type: "tool_use", id: "toolu_1", name: "t" }),
);

const badTools = fc.oneof(
  notArray,
  fc.constant([{ name: "has space", input_schema: { type: "object" } }]),
  fc.constant([{ name: "x".repeat(129), input_schema: { type: "object" } }]),
  fc.constant([{ name: "no_schema" }]),
  fc.constantFrom("string", "array", "number").map((type) => [{ name: "t", input_schema: { type } }]),
  fc.constant([
    { name: "twice", input_schema: { type: "object" } },
    { name: "twice", input_schema: { type: "object" } },
  ]),
);

const badThinking = fc.oneof(
  notObject,
  fc.constant({ type: "enabled" }),
  fc.integer({ min: -5, max: 1023 }).map((budget_tokens) => ({ type: "enabled", budget_tokens })),
  otherString("enabled", "disabled", "adaptive", "between_tools").map((type) => ({ type })),
  notString.map((display) => ({ type: "adaptive", display })),
);

const promptMutations: fc.Arbitrary<Mutation>[] = [
  drop("model"),
  drop("messages"),
  setField("model", fc.oneof(notString, fc.constant(null), fc.constant(""))),
  setField("model", fc.stringMatching(/^zz-[a-z0-9-]{1,20}$/), 404),
  setField("messages", fc.oneof(notArray, fc.constant(null), fc.constant([]))),
  setField(
    "system",
    fc.oneof(fc.integer(), fc.boolean(), smallObject, fc.constant([{ type: "image" }]), fc.constant(["x"])),
  ),
  setField("tools", badTools),
  setField(
    "tool_choice",
    fc.oneof(
      fc.string({ maxLength: 5 }),
      otherString("auto", "any", "tool", "none").map((type) => ({ type })),
    ),
  ),
  fc.constant<Mutation>({
    label: "tool_choice names a tool that is not there",
    status: 400,
    mutate: (b) => {
      b.tool_choice = { type: "tool", name: "zz_not_a_tool" };
    },
  }),
  fc.constant<Mutation>({
    label: "tool_choice any without tools",
    status: 400,
    mutate: (b) => {
      delete b.tools;
      delete b.thinking;
      b.tool_choice = { type: "any" };
    },
  }),
  setField("thinking", badThinking),
  setField(
    "output_config",
    fc.oneof(
      notObject,
      // effort is an open enum (a value newer than Parley is accepted); a wrong type is not.
      notString.map((effort) => ({ effort })),
    ),
  ),
  setField("speed", otherString("standard", "fast")),
  firstMessage("messages.0.role =", otherString("user", "assistant", "system"), (m, v) => {
    m.role = v;
  }),
  firstMessage(
    "messages.0.content =",
    fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), smallObject, fc.constant([]), fc.constant("")),
    (m, v) => {
      m.content = v;
    },
  ),
  firstMessage("messages.0 gets block", badBlock, (m, v) => {
    m.content = [
      ...(typeof m.content === "string" ? [{ type: "text", text: m.content }] : (m.content as Body[])),
      v,
    ];
  }),
  firstMessage("messages.0 without", fc.constantFrom("role", "content"), (m, v) => {
    delete m[v as string];
  }),
];

/** One known-invalid change to a create body, with the status it must get. */
export const createMutation: fc.Arbitrary<Mutation> = fc.oneof(
  ...promptMutations,
  drop("max_tokens"),
  setField("max_tokens", fc.oneof(notInteger, fc.constant(null), fc.integer({ max: -1 }))),
  setField("stream", notBoolean),
  setField("temperature", outOfUnit),
  setField("top_p", outOfUnit),
  setField(
    "top_k",
    fc.oneof(
      fc.integer({ max: -1 }),
      fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }),
      fc.string({ maxLength: 3 }),
    ),
  ),
  setField("stop_sequences", fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.tuple(notString))),
  setField(
    "metadata",
    fc.oneof(
      notObject,
      notString.map((user_id) => ({ user_id })),
    ),
  ),
  setField("service_tier", otherString("auto", "standard_only")),
);

/** One known-invalid change to a count_tokens body. */
export const countMutation: fc.Arbitrary<Mutation> = fc.oneof(...promptMutations);

/** Text that is not a JSON document: cut short, with trailing garbage, or not JSON at all. */
export const brokenJson: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  validCreate.chain((b) => {
    const json = JSON.stringify(b);
    return fc.nat(json.length - 1).map((n) => json.slice(0, n));
  }),
  validCreate.chain((b) =>
    fc.constantFrom("x", "}", ",", "]", '"', "{", "\u0000").map((s) => JSON.stringify(b) + s),
  ),
  fc.constantFrom(
    "{'model': 'mock', 'max_tokens': 1}",
    '{"model": "mock", "max_tokens": NaN, "messages": []}',
    '{"model": "mock", "max_tokens": 1,}',
    '// comment\n{"model": "mock"}',
    "undefined",
    "model=mock&max_tokens=1",
  ),
);

/** A JSON text nested `depth` levels deep (objects and arrays alternating). */
export function nestedJson(depth: number): string {
  return `${'{"a":['.repeat(Math.ceil(depth / 2))}1${"]}".repeat(Math.ceil(depth / 2))}`;
}

/** Where deeply nested JSON goes: `valid` places take any JSON value, the others do not. */
export const NESTING_PLACES: { place: string; valid: boolean; body: (deep: string) => string }[] = [
  { place: "an unknown top-level field", valid: true, body: (d) => bodyWith(`"x_deep":${d}`) },
  { place: "metadata", valid: true, body: (d) => bodyWith(`"metadata":{"user_id":"u","more":${d}}`) },
  {
    place: "a tool_use input",
    valid: true,
    body: (d) =>
      bodyWith(
        "",
        `{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":${d}}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]}`,
      ),
  },
  {
    place: "a tool's input_schema",
    valid: true,
    body: (d) => bodyWith(`"tools":[{"name":"f","input_schema":{"type":"object","properties":{"a":${d}}}}]`),
  },
  {
    place: "a structured-output schema",
    valid: true,
    body: (d) =>
      bodyWith(
        `"output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"a":${d}}}}}`,
      ),
  },
  { place: "message content", valid: false, body: (d) => bodyWith("", `{"role":"user","content":[${d}]}`) },
  { place: "system", valid: false, body: (d) => bodyWith(`"system":[${d}]`) },
];

function bodyWith(field: string, messages = '{"role":"user","content":"hi"}'): string {
  return `{"model":"mock","max_tokens":16,"messages":[${messages}]${field ? `,${field}` : ""}}`;
}

/** A long string built from a short random piece (cheap to generate and shrink). */
export const hugeString = fc
  .tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.integer({ min: 1 << 16, max: 2 << 20 }))
  .map(([piece, length]) => piece.repeat(Math.ceil(length / piece.length)));

/**
 * JSON Schemas with size limits from tiny to absurd, for forced tool calls and structured
 * output: the mock builds a value valid against them, which must never stall the server.
 */
export const demandingSchema: fc.Arbitrary<Body> = fc
  .tuple(
    fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1_000, max: 1_000_000_000 })),
    fc.nat(4),
  )
  .map(([n, kind]) => {
    const property = [
      { type: "string", minLength: n },
      { type: "array", minItems: n },
      { type: "array", minItems: n, items: { type: "array", minItems: n } },
      { type: "object", minProperties: n, properties: { a: { type: "string" }, b: { type: "integer" } } },
      { type: "string", minLength: n, maxLength: 0 },
    ][kind];
    return { type: "object", properties: { a: property }, required: ["a"] };
  });
