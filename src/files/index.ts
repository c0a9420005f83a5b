export { type FileListParams, FileRepository, type StoredFile } from "./repository.ts";
export { FileResolver } from "./resolve.ts";
export { FileStorage } from "./storage.ts";
