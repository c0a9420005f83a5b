export {
  type CredentialHeader,
  credentialProblem,
  type PresentedCredential,
  presentedCredential,
  presentedKey,
} from "./credentials.ts";
export { hashKey, hashKeyHex, keyHint, newSecretKey, sameHash } from "./hash.ts";
export { globToRegExp, type KeyLimits, type KeyStore, modelAllowed, type Principal } from "./principal.ts";
