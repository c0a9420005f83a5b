import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const hashKey = (key: string): Buffer => createHash("sha256").update(key, "utf8").digest();

/** Constant-time comparison of two key hashes. */
export const sameHash = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b);

/** A new secret key in the hosted API's style. */
export const newSecretKey = (prefix = "sk-parley-"): string => prefix + randomBytes(24).toString("base64url");

/** The short, non-secret hint shown in listings (`sk-par...Xy9Z`). */
export const keyHint = (key: string): string => `${key.slice(0, 7)}...${key.slice(-4)}`;
