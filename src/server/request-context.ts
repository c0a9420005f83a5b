import type { FastifyRequest } from "fastify";
import {
  KNOWN_CREATE_FIELDS,
  parseApiVersion,
  parseBetas,
  type RequestContext,
  unknownEnumValues,
} from "../protocol/index.ts";

/** The headers that shape a reply: API version and betas. Unknown betas are fine, logged at debug. */
export function requestContext(request: FastifyRequest): RequestContext {
  const header = request.headers["anthropic-version"];
  const rawApiVersion = typeof header === "string" ? header : "2023-06-01";
  const betas = parseBetas(request.headers["anthropic-beta"]);
  if (betas.length) request.log.debug({ betas }, "anthropic-beta");
  return {
    apiVersion: parseApiVersion(typeof header === "string" ? header : undefined),
    rawApiVersion,
    betas,
  };
}

/**
 * Fields, and values of enum-like fields, that a newer client may send and this server does not
 * know yet: accepted, logged at debug.
 */
export function logUnknownFields(request: FastifyRequest, body: object): void {
  // Only logged at debug: below it, the scan of every request's fields is skipped.
  if (request.log.level !== "debug" && request.log.level !== "trace") return;
  const unknown = Object.keys(body).filter((k) => !KNOWN_CREATE_FIELDS.has(k));
  if (unknown.length) request.log.debug({ fields: unknown }, "unknown request fields accepted");
  const values = unknownEnumValues(body);
  if (values.length) request.log.debug({ values }, "unknown enum values accepted");
}
