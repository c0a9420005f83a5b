import { Readable } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";
import Type, { type Static } from "typebox";
import {
  type Batch,
  type BatchRepository,
  type BatchWorker,
  batchObject,
  type Clock,
  checkBatchRequests,
} from "../../batches/index.ts";
import { ApiError, invalidRequest, notFound } from "../../protocol/index.ts";
import type { AppDeps } from "../deps.ts";
import { requestContext } from "../request-context.ts";

/** What the batch routes need: the store's batches, the worker to wake, and the time. */
export interface BatchServices {
  repo: BatchRepository;
  /** Absent when this instance runs no batch work (`batches.enabled: false`); another one does. */
  worker?: BatchWorker;
  clock: Clock;
}

const CreateBody = Type.Object({
  requests: Type.Array(
    Type.Object({
      custom_id: Type.String({ pattern: "^[A-Za-z0-9_-]{1,64}$" }),
      params: Type.Object({}, { additionalProperties: true }),
    }),
  ),
});
const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 20 })),
  after_id: Type.Optional(Type.String()),
  before_id: Type.Optional(Type.String()),
});
const IdParams = Type.Object({ id: Type.String() });
type IdParams = Static<typeof IdParams>;

const tags = ["message batches"];

/** `/v1/messages/batches`: create, list, get, cancel, delete and results, as the hosted API. */
export async function batchRoutes(
  app: FastifyInstance,
  deps: AppDeps,
  batches: BatchServices,
): Promise<void> {
  const { repo, clock } = batches;
  const who = (request: FastifyRequest) => ({ workspaceId: request.principal?.workspaceId ?? null });
  const baseUrl = (request: FastifyRequest) =>
    deps.config.public_url ?? `${request.protocol}://${request.host}`;
  const existing = async (request: FastifyRequest<{ Params: IdParams }>): Promise<Batch> => {
    const batch = await repo.get(request.params.id, who(request));
    if (!batch) throw notFound(`message_batch: ${request.params.id} not found`);
    return batch;
  };

  app.post<{ Body: Static<typeof CreateBody> }>(
    "/v1/messages/batches",
    {
      schema: { body: CreateBody, summary: "Create a message batch", tags },
      bodyLimit: Math.floor(deps.config.batches.max_body_mb * 1024 * 1024),
    },
    async (request) => {
      const principal = request.principal;
      if (!principal) throw new ApiError(401, "authentication_error", "invalid x-api-key");
      const requests = await checkBatchRequests(
        request.body.requests,
        requestContext(request),
        principal,
        deps.messages,
        deps.config.batches.max_requests,
      );
      const now = clock.now();
      const batch = await repo.create({
        principal,
        requests,
        now,
        expiresAt: now + deps.config.batches.expiry_hours * 3_600_000,
      });
      batches.worker?.wake();
      return batchObject(batch, baseUrl(request));
    },
  );

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    "/v1/messages/batches",
    {
      schema: { querystring: ListQuery, summary: "List message batches", tags },
      config: { unlimited: true },
    },
    async (request) => {
      const page = await repo.list(who(request), request.query);
      return { ...page, data: page.data.map((b) => batchObject(b, baseUrl(request))) };
    },
  );

  app.get<{ Params: IdParams }>(
    "/v1/messages/batches/:id",
    { schema: { params: IdParams, summary: "Get a message batch", tags }, config: { unlimited: true } },
    async (request) => batchObject(await existing(request), baseUrl(request)),
  );

  app.post<{ Params: IdParams }>(
    "/v1/messages/batches/:id/cancel",
    { schema: { params: IdParams, summary: "Cancel a message batch", tags }, config: { unlimited: true } },
    async (request) => {
      const batch = await existing(request);
      await repo.cancel(batch.id, clock.now());
      // Running requests of the batch stop at this instance's next heartbeat; make that now.
      batches.worker?.heartbeat().catch((err) => request.log.warn({ err }, "batch heartbeat failed"));
      return batchObject((await repo.get(batch.id, "all")) ?? batch, baseUrl(request));
    },
  );

  app.delete<{ Params: IdParams }>(
    "/v1/messages/batches/:id",
    {
      schema: { params: IdParams, summary: "Delete an ended message batch", tags },
      config: { unlimited: true },
    },
    async (request) => {
      const batch = await existing(request);
      if (batch.processing_status !== "ended") {
        throw invalidRequest(
          `Batch ${batch.id} cannot be deleted while it is ${batch.processing_status}; cancel it and wait for it to end first.`,
        );
      }
      await repo.delete(batch.id);
      return { id: batch.id, type: "message_batch_deleted" };
    },
  );

  app.get<{ Params: IdParams }>(
    "/v1/messages/batches/:id/results",
    {
      schema: { params: IdParams, summary: "Results of an ended batch (JSONL)", tags },
      config: { unlimited: true },
    },
    async (request, reply) => {
      const batch = await existing(request);
      if (batch.processing_status !== "ended") {
        throw invalidRequest(`Batch ${batch.id} has not ended yet; results are available once it has.`);
      }
      if (batch.archived_at !== null) {
        throw notFound(`Results of batch ${batch.id} were deleted after the retention period.`);
      }
      const lines = async function* () {
        for await (const r of repo.results(batch.id)) {
          yield `{"custom_id":${JSON.stringify(r.custom_id)},"result":${r.result}}\n`;
        }
      };
      return reply.type("application/x-jsonl").send(Readable.from(lines()));
    },
  );
}
