import { setImmediate as nextTurn } from "node:timers/promises";
import type { Principal } from "../auth/index.ts";
import {
  ApiError,
  compileValidator,
  invalidRequest,
  type MessageCreateParams,
  MessageCreateParams as MessageCreateSchema,
  type RequestContext,
} from "../protocol/index.ts";
import type { MessageService } from "../service/index.ts";
import type { NewBatchRequest } from "./repository.ts";

export interface BatchCreateRequest {
  custom_id: string;
  params: unknown;
}

const validateParams = compileValidator(MessageCreateSchema);
/** Requests checked between two turns of the event loop, so a 100,000-request batch never stalls it. */
const CHECKS_PER_TURN = 500;

/** A field path inside request N's params, in the hosted API's words. */
function atParams(i: number, message: string): string {
  const m = /^([A-Za-z0-9_.[\]-]+): ([\s\S]*)$/.exec(message);
  if (!m) return `requests.${i}.params: ${message}`;
  return m[1] === "body" ? `requests.${i}.params: ${m[2]}` : `requests.${i}.params.${m[1]}: ${m[2]}`;
}

/**
 * Checks every request of a new batch as `POST /v1/messages` would (schema, protocol rules, model
 * and scope) so a bad one is a 400 naming `requests.N.params.<field>` at creation, not a failure later.
 */
export async function checkBatchRequests(
  requests: BatchCreateRequest[],
  context: RequestContext,
  principal: Principal,
  messages: MessageService,
  maxRequests: number,
): Promise<NewBatchRequest[]> {
  if (requests.length === 0) throw invalidRequest("requests: List should have at least 1 item");
  if (requests.length > maxRequests) {
    throw invalidRequest(`requests: List should have at most ${maxRequests} items`);
  }
  const seen = new Set<string>();
  const checked: NewBatchRequest[] = [];
  for (const [i, r] of requests.entries()) {
    if (i > 0 && i % CHECKS_PER_TURN === 0) await nextTurn();
    checked.push(checkOne(r, i, seen, context, principal, messages));
  }
  return checked;
}

function checkOne(
  r: BatchCreateRequest,
  i: number,
  seen: Set<string>,
  context: RequestContext,
  principal: Principal,
  messages: MessageService,
): NewBatchRequest {
  if (seen.has(r.custom_id)) {
    throw invalidRequest(`requests.${i}.custom_id: Duplicate custom_id '${r.custom_id}' in this batch`);
  }
  seen.add(r.custom_id);
  const checked = validateParams(r.params);
  if (!checked.ok) throw invalidRequest(atParams(i, checked.message));
  const params = r.params as MessageCreateParams;
  if (params.stream === true) {
    throw invalidRequest(`requests.${i}.params.stream: batch requests cannot stream`);
  }
  try {
    const prepared = messages.prepare(params, context, principal);
    return { custom_id: r.custom_id, model: prepared.entry.config.id, params, context };
  } catch (err) {
    if (err instanceof ApiError) throw new ApiError(err.status, err.type, atParams(i, err.message));
    throw err;
  }
}
