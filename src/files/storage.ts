import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { requestTooLarge } from "../protocol/index.ts";

/** File bytes on disk, one file per id under `dir` (the data dir's `files/` by default). */
export class FileStorage {
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  private path(id: string): string {
    if (!/^file_[A-Za-z0-9]+$/.test(id)) throw new Error(`not a file id: ${id}`);
    return join(this.dir, id);
  }

  /** Streams an upload to disk, refusing it past `maxBytes` (the partial file is removed). */
  async write(id: string, source: Readable, maxBytes: number): Promise<number> {
    await mkdir(this.dir, { recursive: true });
    let size = 0;
    let tooLarge = false;
    source.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes && !tooLarge) {
        tooLarge = true;
        source.destroy(requestTooLarge(`File exceeds the maximum size of ${maxBytes} bytes`));
      }
    });
    try {
      await pipeline(source, createWriteStream(this.path(id)));
    } catch (err) {
      await this.remove(id);
      throw err;
    }
    return size;
  }

  read(id: string): Readable {
    return createReadStream(this.path(id));
  }

  readAll(id: string): Promise<Buffer> {
    return readFile(this.path(id));
  }

  async remove(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
  }
}
