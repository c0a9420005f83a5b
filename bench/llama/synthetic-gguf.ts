import { randomFillSync } from "node:crypto";
import { mkdir, open, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { readGgufFileInfo } from "node-llama-cpp";

/** Llama-architecture shapes of real small models. */
export interface Shape {
  embd: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ff: number;
}

export const SHAPES: Record<string, Shape> = {
  // SmolLM2-135M's shape.
  "135m": { embd: 576, layers: 30, heads: 9, kvHeads: 3, ff: 1536 },
  // Qwen2.5-0.5B's shape (as llama arch).
  "0.5b": { embd: 896, layers: 24, heads: 14, kvHeads: 2, ff: 4864 },
};

const ALIGN = 32;
const F32 = 0;

/**
 * The matrices' GGML type. Q8_0 is the default; the others show how much batched decoding gains
 * per weight type on a CPU (on one AMD EPYC, a 4-token step gained nothing with Q8_0 and 1.3×
 * with Q4_0; docs/inference-speed.md).
 */
export const WEIGHT_TYPES = { q8_0: 8, q4_0: 2, f16: 1 } as const;
export type WeightType = keyof typeof WEIGHT_TYPES;

/** Bytes per block of 32 values (a scale and the values), or per value for F16. */
const BLOCK_BYTES: Record<number, number> = { 8: 34, 2: 18 };

/**
 * The GGUF a bench runs, from its `--model` and `--weights`: a shape of SHAPES is a synthetic
 * file under bench/.models/ (written on first use, with the fixture model's tokenizer); anything
 * else is a path. The Q8_0 file keeps its old name, so one written before is reused.
 */
export async function benchModelFile(model: string, weights: string): Promise<string> {
  if (!(weights in WEIGHT_TYPES))
    throw new Error(`--weights must be one of ${Object.keys(WEIGHT_TYPES).join(", ")}, not ${weights}`);
  const shape = SHAPES[model];
  if (!shape) return resolve(model);
  const type = weights as WeightType;
  const fixture = resolve(
    process.env.PARLEY_MODELS_DIR ?? join(import.meta.dirname, "../../../shared/models"),
    "llama-2-tiny-random.gguf",
  );
  const suffix = type === "q8_0" ? "" : `-${type}`;
  return writeSyntheticGguf(
    join(import.meta.dirname, `../.models/synthetic-${model}${suffix}.gguf`),
    shape,
    fixture,
    type,
  );
}

/**
 * Writes a random-weight GGUF (matrices of `weights` type) with a real shape and the tokenizer of
 * `tokenizerFrom` (a real vocabulary, so prompts tokenize as they would). Speed depends on
 * shape and quantisation, not on trained weights, so this benchmarks realistic sizes offline.
 */
export async function writeSyntheticGguf(
  file: string,
  shape: Shape,
  tokenizerFrom: string,
  weights: WeightType = "q8_0",
): Promise<string> {
  const matrix = WEIGHT_TYPES[weights];
  if (await stat(file).catch(() => undefined)) return file;
  const info = await readGgufFileInfo(tokenizerFrom, { readTensorInfo: false });
  const tokenizer = (info.metadata as unknown as { tokenizer: Record<string, unknown> }).tokenizer;
  const vocab = ((tokenizer.ggml as Record<string, unknown>).tokens as string[]).length;
  const kv: [string, unknown][] = [
    ["general.architecture", "llama"],
    ["general.name", "parley-bench-synthetic"],
    ["llama.context_length", 8192],
    ["llama.embedding_length", shape.embd],
    ["llama.block_count", shape.layers],
    ["llama.feed_forward_length", shape.ff],
    ["llama.attention.head_count", shape.heads],
    ["llama.attention.head_count_kv", shape.kvHeads],
    ["llama.rope.dimension_count", shape.embd / shape.heads],
    ["llama.attention.layer_norm_rms_epsilon", 1e-5],
    ...flatten("tokenizer", tokenizer),
  ];
  const kvDim = (shape.embd / shape.heads) * shape.kvHeads;
  const tensors: { name: string; dims: number[]; type: number }[] = [
    { name: "token_embd.weight", dims: [shape.embd, vocab], type: matrix },
    { name: "output_norm.weight", dims: [shape.embd], type: F32 },
    { name: "output.weight", dims: [shape.embd, vocab], type: matrix },
  ];
  for (let i = 0; i < shape.layers; i++) {
    const b = `blk.${i}.`;
    tensors.push(
      { name: `${b}attn_norm.weight`, dims: [shape.embd], type: F32 },
      { name: `${b}attn_q.weight`, dims: [shape.embd, shape.embd], type: matrix },
      { name: `${b}attn_k.weight`, dims: [shape.embd, kvDim], type: matrix },
      { name: `${b}attn_v.weight`, dims: [shape.embd, kvDim], type: matrix },
      { name: `${b}attn_output.weight`, dims: [shape.embd, shape.embd], type: matrix },
      { name: `${b}ffn_norm.weight`, dims: [shape.embd], type: F32 },
      { name: `${b}ffn_gate.weight`, dims: [shape.embd, shape.ff], type: matrix },
      { name: `${b}ffn_up.weight`, dims: [shape.embd, shape.ff], type: matrix },
      { name: `${b}ffn_down.weight`, dims: [shape.ff, shape.embd], type: matrix },
    );
  }
  const head = new Writer();
  head.raw(Buffer.from("GGUF"));
  head.u32(3);
  head.u64(tensors.length);
  head.u64(kv.length);
  for (const [k, v] of kv) head.kv(k, v);
  let offset = 0;
  const sizes = tensors.map((t) => tensorBytes(t));
  tensors.forEach((t, i) => {
    head.str(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(t.type);
    head.u64(offset);
    offset += pad(sizes[i] as number);
  });
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.part`;
  const fh = await open(tmp, "w");
  try {
    const header = head.done();
    await fh.write(Buffer.concat([header, Buffer.alloc(pad(header.length) - header.length)]));
    for (const [i, t] of tensors.entries()) {
      const bytes = randomTensor(t.type, sizes[i] as number);
      await fh.write(Buffer.concat([bytes, Buffer.alloc(pad(bytes.length) - bytes.length)]));
    }
  } finally {
    await fh.close();
  }
  const { rename } = await import("node:fs/promises");
  await rename(tmp, file);
  return file;
}

function tensorBytes(t: { dims: number[]; type: number }): number {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.type === F32) return n * 4;
  if (t.type === WEIGHT_TYPES.f16) return n * 2;
  return (n / 32) * (BLOCK_BYTES[t.type] as number);
}

/**
 * Norm weights 1.0; quantised blocks with a small scale and random values; F16 values random
 * with a small exponent (|x| < 0.016), so no value is infinite or NaN.
 */
function randomTensor(type: number, bytes: number): Buffer {
  if (type === F32) {
    const b = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i += 4) b.writeFloatLE(1, i);
    return b;
  }
  const b = randomFillSync(Buffer.alloc(bytes));
  if (type === WEIGHT_TYPES.f16) {
    for (let i = 0; i < bytes; i += 2) b.writeUInt16LE((b.readUInt16LE(i) & 0x83ff) | (0x0c << 10), i);
    return b;
  }
  const block = BLOCK_BYTES[type] as number;
  for (let i = 0; i < bytes; i += block) b.writeUInt16LE(0x1c00, i); // f16 0.00391 scale
  return b;
}

const pad = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

function flatten(prefix: string, obj: Record<string, unknown>): [string, unknown][] {
  return Object.entries(obj).flatMap(([k, v]) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? flatten(`${prefix}.${k}`, v as Record<string, unknown>)
      : [[`${prefix}.${k}`, v] as [string, unknown]],
  );
}

class Writer {
  private readonly parts: Buffer[] = [];
  raw(b: Buffer): void {
    this.parts.push(b);
  }
  u32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    this.parts.push(b);
  }
  i32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    this.parts.push(b);
  }
  f32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(n);
    this.parts.push(b);
  }
  u64(n: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    this.parts.push(b);
  }
  str(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.parts.push(b);
  }
  kv(key: string, v: unknown): void {
    this.str(key);
    this.value(v, true);
  }
  private value(v: unknown, typed: boolean, forced?: number): void {
    const type = forced ?? typeOf(v);
    if (typed) this.u32(type);
    if (type === 8) this.str(String(v));
    else if (type === 7) this.parts.push(Buffer.from([v ? 1 : 0]));
    else if (type === 4) this.u32(v as number);
    else if (type === 5) this.i32(v as number);
    else if (type === 6) this.f32(v as number);
    else if (type === 9) {
      const arr = v as unknown[];
      const el = arr.some((x) => typeof x === "string")
        ? 8
        : arr.some((x) => typeof x === "number" && !Number.isInteger(x))
          ? 6
          : 5;
      this.u32(el);
      this.u64(arr.length);
      for (const x of arr) this.value(x, false, el);
    }
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function typeOf(v: unknown): number {
  if (typeof v === "string") return 8;
  if (typeof v === "boolean") return 7;
  if (Array.isArray(v)) return 9;
  if (typeof v === "number") return Number.isInteger(v) ? (v >= 0 ? 4 : 5) : 6;
  throw new Error(`cannot write ${typeof v} to GGUF`);
}
