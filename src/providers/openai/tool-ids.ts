/**
 * Tool-use ids both ways, without state: an upstream's id (`call_…`, `chatcmpl-tool-…`) travels to
 * the client as `toolu_x` + its hex, so clients see the hosted `toolu_` prefix, and the id comes
 * back to the upstream unchanged when the history is sent again.
 */
const PREFIX = "toolu_x";
const ENCODED = /^toolu_x((?:[0-9a-f]{2})+)$/;

export function toAnthropicToolId(upstreamId: string): string {
  if (upstreamId.startsWith("toolu_")) return upstreamId;
  return PREFIX + Buffer.from(upstreamId, "utf8").toString("hex");
}

export function toUpstreamToolId(id: string): string {
  const m = ENCODED.exec(id);
  if (!m) return id;
  const decoded = Buffer.from(m[1], "hex").toString("utf8");
  // Not something Parley encoded (a client's own id that happens to look like one): keep it.
  return /^[\x21-\x7e]+$/.test(decoded) ? decoded : id;
}
