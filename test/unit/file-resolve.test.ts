import { describe, expect, it } from "vitest";
import type { Principal } from "../../src/auth/index.ts";
import { ManualClock } from "../../src/batches/index.ts";
import {
  type FileRepository,
  FileResolver,
  type FileStorage,
  type StoredFile,
} from "../../src/files/index.ts";
import { toMessageRequest } from "../../src/protocol/index.ts";
import type { ModelEntry } from "../../src/router/index.ts";

const file: StoredFile = {
  id: "file_01local",
  workspace_id: null,
  key_id: "apikey_1",
  filename: "a.txt",
  mime_type: "text/plain",
  size_bytes: 5,
  downloadable: false,
  created_at: 0,
  expires_at: null,
};
const repo = { get: async (id: string) => (id === file.id ? file : undefined) } as unknown as FileRepository;
const storage = { readAll: async () => Buffer.from("hello") } as unknown as FileStorage;
const resolver = new FileResolver(repo, storage, new ManualClock(0));
const principal: Principal = { keyId: "apikey_1", name: "t", models: ["*"], limits: {} };
const entry = (provider: string) => ({ config: { id: "m", provider } }) as unknown as ModelEntry;
const context = { apiVersion: "2023-06-01" as const, rawApiVersion: "2023-06-01", betas: [] };
const request = (fileId: string) =>
  toMessageRequest(
    {
      model: "m",
      max_tokens: 5,
      messages: [
        {
          role: "user",
          content: [
            { type: "document", source: { type: "file", file_id: fileId } },
            { type: "text", text: "?" },
          ],
        },
      ],
    },
    context,
  );

describe("file_id resolution", () => {
  it("inlines a Parley file for every backend, in the turns and in the pass-through params", async () => {
    for (const kind of ["mock", "llama", "openai", "anthropic"]) {
      const out = await resolver.resolve(request(file.id), principal, entry(kind));
      const doc = {
        type: "document",
        title: "a.txt",
        source: { type: "text", media_type: "text/plain", data: "hello" },
      };
      expect(out.messages[0].content[0]).toEqual(doc);
      expect((out.params.messages[0].content as unknown[])[0]).toEqual(doc);
    }
  });

  it("passes an unknown id through to an Anthropic upstream (it may live there), 404 elsewhere", async () => {
    const upstream = await resolver.resolve(request("file_01upstream"), principal, entry("anthropic"));
    expect(upstream.messages[0].content[0]).toEqual({
      type: "document",
      source: { type: "file", file_id: "file_01upstream" },
    });
    await expect(
      resolver.resolve(request("file_01upstream"), principal, entry("openai")),
    ).rejects.toMatchObject({
      status: 404,
      type: "not_found_error",
    });
  });
});
