import { hash, randomBytes, timingSafeEqual } from "node:crypto";

/** SHA-256 of a key. One-shot `crypto.hash`: no Hash object per request, as `createHash` makes. */
export const hashKey = (key: string): Buffer => hash("sha256", key, "buffer");

/** The same hash as hex, the form the key store looks keys up by. */
export const hashKeyHex = (key: string): string => hash("sha256", key, "hex");

/** Constant-time comparison of two key hashes. */
export const sameHash = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b);

/** A new secret key in the hosted API's style. */
export const newSecretKey = (prefix = "sk-parley-"): string => prefix + randomBytes(24).toString("base64url");

/** The short, non-secret hint shown in listings (`sk-par...Xy9Z`). */
export const keyHint = (key: string): string => `${key.slice(0, 7)}...${key.slice(-4)}`;
