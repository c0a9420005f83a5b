import { access } from "node:fs/promises";
import { basename, isAbsolute, join, resolve } from "node:path";
import { resolveModelFile } from "node-llama-cpp";

export interface ModelFileOptions {
  /** `path:` from the config: a .gguf file, or hf:owner/repo/file.gguf. */
  path: string;
  /** Where hf: downloads are kept: <data_dir>/models. */
  cacheDir: string;
  /** PARLEY_MODELS_DIR: searched first. */
  modelsDir?: string;
  /** Whether an hf: file missing from the cache may be downloaded now. */
  download: boolean;
  signal?: AbortSignal;
}

/** A model file that cannot be had; the message says why and what fixes it. */
export class ModelFileError extends Error {
  override name = "ModelFileError";
}

/** Finds the .gguf to load: PARLEY_MODELS_DIR first, then the path or the hf: cache (downloading once). */
export async function locateModelFile(o: ModelFileOptions): Promise<string> {
  const hf = o.path.startsWith("hf:");
  const name = hf ? basename(o.path.slice(3).replace(/:.*/, "")) : o.path;
  const candidates = o.modelsDir
    ? [...new Set([isAbsolute(name) ? "" : join(o.modelsDir, name), join(o.modelsDir, basename(name))])]
    : [];
  for (const file of candidates.filter(Boolean)) if (await exists(file)) return file;
  if (!hf) {
    const file = resolve(o.path);
    if (await exists(file)) return file;
    const searched = [...candidates, file].join(", ");
    throw new ModelFileError(
      `Model file not found: ${o.path} (looked at ${searched}). Fix \`path:\` in the config or put the file in PARLEY_MODELS_DIR.`,
    );
  }
  return downloadOnce(o);
}

/** How long the Hugging Face reachability check may take before Parley calls the host offline. */
const REACH_TIMEOUT_MS = 5_000;

async function downloadOnce(o: ModelFileOptions): Promise<string> {
  const resolveFile = (download: boolean) =>
    resolveModelFile(o.path, {
      directory: o.cacheDir,
      download: download ? "auto" : false,
      cli: Boolean(process.stderr.isTTY),
      deleteTempFileOnCancel: false,
      signal: o.signal,
    });
  try {
    return await resolveFile(false);
  } catch {
    // Not in the cache yet: fall through to the download.
  }
  try {
    // node-llama-cpp's downloader retries for minutes when offline; fail fast instead.
    if (o.download) await assertReachable("https://huggingface.co/", o.signal);
    return await resolveFile(o.download);
  } catch (err) {
    const cause = err instanceof Error ? err.message : String(err);
    throw new ModelFileError(
      `Cannot get ${o.path}: ${cause}. Parley downloads hf: models once into ${o.cacheDir} (resuming partial downloads); ` +
        "run it once with network access, or set `path:` to a local .gguf file (or put the file in PARLEY_MODELS_DIR).",
    );
  }
}

async function assertReachable(url: string, signal?: AbortSignal): Promise<void> {
  const timeout = AbortSignal.timeout(REACH_TIMEOUT_MS);
  try {
    await fetch(url, { method: "HEAD", signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  } catch (err) {
    const why = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new Error(`huggingface.co is not reachable (${why}); the machine looks offline`);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
