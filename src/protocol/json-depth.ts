import { invalidRequest } from "./errors.ts";

/** Deeper JSON than any real request needs; deeper would let a body overflow recursive code later. */
export const MAX_JSON_DEPTH = 128;

/** Throws a 400 when a parsed body nests deeper than MAX_JSON_DEPTH (checked without recursion). */
export function assertJsonDepth(value: unknown, max = MAX_JSON_DEPTH): void {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== "object") continue;
    if (depth > max) throw invalidRequest(`body: JSON nesting deeper than ${max} levels is not supported`);
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
}
