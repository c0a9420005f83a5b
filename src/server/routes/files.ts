import { extname } from "node:path";
import multipart from "@fastify/multipart";
import type { FastifyInstance, FastifyRequest } from "fastify";
import Type, { type Static } from "typebox";
import type { Clock } from "../../batches/index.ts";
import type { FileRepository, FileStorage, StoredFile } from "../../files/index.ts";
import { ApiError, invalidRequest, notFound } from "../../protocol/index.ts";
import type { AppDeps } from "../deps.ts";

export interface FileServices {
  repo: FileRepository;
  storage: FileStorage;
  clock: Clock;
}

/** Both ways the SDKs page this list: GA `limit`/`page`, and the classic `after_id`/`before_id`. */
const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 20 })),
  page: Type.Optional(Type.String()),
  after_id: Type.Optional(Type.String()),
  before_id: Type.Optional(Type.String()),
  "ids[]": Type.Optional(Type.Array(Type.String())),
  ids: Type.Optional(Type.Array(Type.String())),
  beta: Type.Optional(Type.String()),
});
const IdParams = Type.Object({ id: Type.String() });
type IdParams = Static<typeof IdParams>;

const tags = ["files"];

const MIME_BY_EXTENSION: Record<string, string> = {
  ".pdf": "application/pdf",
  ".txt": "text/plain",
  ".md": "text/markdown",
  ".csv": "text/csv",
  ".json": "application/json",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
};

export function fileObject(f: StoredFile) {
  return {
    id: f.id,
    type: "file" as const,
    filename: f.filename,
    mime_type: f.mime_type,
    size_bytes: f.size_bytes,
    created_at: new Date(f.created_at).toISOString(),
    downloadable: f.downloadable,
    expires_at: f.expires_at === null ? null : new Date(f.expires_at).toISOString(),
  };
}

/** `/v1/files`: upload (multipart), list, metadata, content and delete, scoped to the key's workspace. */
export async function fileRoutes(app: FastifyInstance, deps: AppDeps, files: FileServices): Promise<void> {
  const { repo, storage, clock } = files;
  const maxBytes = Math.floor(deps.config.files.max_file_mb * 1024 * 1024);
  await app.register(multipart, { limits: { fileSize: maxBytes, files: 1, fields: 10 } });
  const workspace = (request: FastifyRequest) => request.principal?.workspaceId ?? null;
  const existing = async (request: FastifyRequest<{ Params: IdParams }>) => {
    const file = await repo.get(request.params.id, workspace(request), clock.now());
    if (!file) throw notFound(`File not found: ${request.params.id}`);
    return file;
  };

  app.post("/v1/files", { schema: { summary: "Upload a file", tags } }, async (request) => {
    const principal = request.principal;
    if (!principal) throw new ApiError(401, "authentication_error", "invalid x-api-key");
    if (!request.isMultipart()) throw invalidRequest("file: Field required (send multipart/form-data)");
    const id = repo.newId();
    let upload: { filename: string; mime: string; size: number } | undefined;
    let expiresIn: number | undefined;
    try {
      for await (const part of request.parts()) {
        if (part.type === "file") {
          if (part.fieldname !== "file" || upload) {
            part.file.resume();
            continue;
          }
          const size = await storage.write(id, part.file, maxBytes);
          if (part.file.truncated) throw fileTooLarge(maxBytes);
          const guessed = MIME_BY_EXTENSION[extname(part.filename).toLowerCase()];
          const mime =
            part.mimetype && part.mimetype !== "application/octet-stream" ? part.mimetype : guessed;
          upload = { filename: part.filename || "upload", mime: mime ?? "application/octet-stream", size };
        } else if (part.fieldname === "expires_in_seconds") {
          expiresIn = Number(part.value);
          if (!Number.isInteger(expiresIn) || expiresIn < 1) {
            throw invalidRequest("expires_in_seconds: Input should be a positive integer");
          }
        }
      }
    } catch (err) {
      await storage.remove(id);
      if ((err as { code?: string }).code === "FST_REQ_FILE_TOO_LARGE") throw fileTooLarge(maxBytes);
      throw err;
    }
    if (!upload) throw invalidRequest("file: Field required");
    const now = clock.now();
    const stored: StoredFile = {
      id,
      workspace_id: principal.workspaceId ?? null,
      key_id: principal.keyId,
      filename: upload.filename,
      mime_type: upload.mime,
      size_bytes: upload.size,
      downloadable: false,
      created_at: now,
      expires_at: expiresIn === undefined ? null : now + expiresIn * 1000,
    };
    await repo.insert(stored);
    return fileObject(stored);
  });

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    "/v1/files",
    { schema: { querystring: ListQuery, summary: "List files", tags }, config: { unlimited: true } },
    async (request) => {
      const q = request.query;
      const ids = [...(q["ids[]"] ?? []), ...(q.ids ?? [])];
      const page = await repo.list(workspace(request), {
        limit: q.limit,
        after_id: q.after_id ?? q.page,
        before_id: q.before_id,
        ids: ids.length ? ids : undefined,
        now: clock.now(),
      });
      return {
        data: page.data.map(fileObject),
        has_more: page.has_more,
        first_id: page.first_id,
        last_id: page.last_id,
        next_page: page.has_more ? page.last_id : null,
      };
    },
  );

  app.get<{ Params: IdParams }>(
    "/v1/files/:id",
    { schema: { params: IdParams, summary: "File metadata", tags }, config: { unlimited: true } },
    async (request) => fileObject(await existing(request)),
  );

  app.get<{ Params: IdParams }>(
    "/v1/files/:id/content",
    { schema: { params: IdParams, summary: "Download a file", tags }, config: { unlimited: true } },
    async (request, reply) => {
      const file = await existing(request);
      if (!file.downloadable && !deps.config.files.allow_downloads) {
        const err = invalidRequest(
          `File ${file.id} is not downloadable: uploaded files can only be used in messages.`,
        );
        err.details = { error_code: "file_not_downloadable" };
        throw err;
      }
      return reply
        .type(file.mime_type)
        .header("content-disposition", `attachment; filename="${file.filename.replace(/["\\\r\n]/g, "_")}"`)
        .send(storage.read(file.id));
    },
  );

  app.delete<{ Params: IdParams }>(
    "/v1/files/:id",
    { schema: { params: IdParams, summary: "Delete a file", tags }, config: { unlimited: true } },
    async (request) => {
      const file = await existing(request);
      await repo.delete(file.id);
      await storage.remove(file.id);
      return { id: file.id, type: "file_deleted" };
    },
  );
}

function fileTooLarge(maxBytes: number): ApiError {
  return new ApiError(413, "request_too_large", `File exceeds the maximum size of ${maxBytes} bytes`);
}
