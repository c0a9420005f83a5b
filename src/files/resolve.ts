import type { Principal } from "../auth/index.ts";
import type { Clock } from "../batches/index.ts";
import {
  type ContentBlockParam,
  type MessageRequest,
  notFound,
  type Turn,
  unsupportedFeature,
} from "../protocol/index.ts";
import type { ModelEntry } from "../router/index.ts";
import type { FileSourceResolver } from "../service/index.ts";
import type { FileRepository, StoredFile } from "./repository.ts";
import type { FileStorage } from "./storage.ts";

type Source = { type: string; file_id?: string };
type Loaded = { file: StoredFile; bytes: Buffer };

const IMAGE_TYPES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);

/**
 * Replaces `{type: "file", file_id}` image and document sources with the file's bytes, before any
 * provider sees the request. An Anthropic upstream keeps an id Parley does not hold (the file may
 * live upstream); every other backend gets a 404 for it, as the hosted API answers.
 */
export class FileResolver implements FileSourceResolver {
  private readonly repo: FileRepository;
  private readonly storage: FileStorage;
  private readonly clock: Clock;

  constructor(repo: FileRepository, storage: FileStorage, clock: Clock) {
    this.repo = repo;
    this.storage = storage;
    this.clock = clock;
  }

  async resolve(request: MessageRequest, principal: Principal, entry: ModelEntry): Promise<MessageRequest> {
    const ids = new Set<string>();
    for (const turn of request.messages) collectIds(turn.content, ids);
    if (ids.size === 0) return request;
    const loaded = new Map<string, Loaded>();
    for (const id of ids) {
      const file = await this.repo.get(id, principal.workspaceId ?? null, this.clock.now());
      if (file) loaded.set(id, { file, bytes: await this.storage.readAll(id) });
      else if (entry.config.provider !== "anthropic") throw notFound(`File not found: ${id}`);
    }
    if (loaded.size === 0) return request;
    const inline = (blocks: ContentBlockParam[]) => blocks.map((b) => inlineBlock(b, loaded));
    const messages: Turn[] = request.messages.map((t) => ({ ...t, content: inline(t.content) }));
    const params = {
      ...request.params,
      messages: request.params.messages.map((m) =>
        typeof m.content === "string" ? m : { ...m, content: inline(m.content) },
      ) as MessageRequest["params"]["messages"],
    };
    return { ...request, messages, params };
  }
}

function collectIds(blocks: readonly ContentBlockParam[], ids: Set<string>): void {
  for (const b of blocks) {
    if ((b.type === "image" || b.type === "document") && (b.source as Source).type === "file") {
      ids.add((b.source as Source).file_id as string);
    }
    if (b.type === "tool_result" && Array.isArray(b.content)) {
      collectIds(b.content as ContentBlockParam[], ids);
    }
  }
}

function inlineBlock(block: ContentBlockParam, files: Map<string, Loaded>): ContentBlockParam {
  if (block.type === "tool_result" && Array.isArray(block.content)) {
    const content = (block.content as ContentBlockParam[]).map((b) => inlineBlock(b, files));
    return { ...block, content } as ContentBlockParam;
  }
  if (block.type !== "image" && block.type !== "document") return block;
  const source = block.source as Source;
  const loaded = source.type === "file" ? files.get(source.file_id as string) : undefined;
  if (!loaded) return block;
  const { file, bytes } = loaded;
  if (block.type === "image") {
    if (!IMAGE_TYPES.has(file.mime_type)) {
      throw unsupportedFeature(`File ${file.id} (${file.mime_type}) cannot be used as an image source`);
    }
    return {
      ...block,
      source: { type: "base64", media_type: file.mime_type as "image/png", data: bytes.toString("base64") },
    };
  }
  if (file.mime_type === "application/pdf") {
    return {
      ...block,
      source: { type: "base64", media_type: "application/pdf", data: bytes.toString("base64") },
    };
  }
  if (file.mime_type.startsWith("text/") || file.mime_type === "application/json") {
    return {
      ...block,
      title: block.title ?? file.filename,
      source: { type: "text", media_type: "text/plain", data: bytes.toString("utf8") },
    };
  }
  throw unsupportedFeature(`File ${file.id} (${file.mime_type}) cannot be used as a document source`);
}
