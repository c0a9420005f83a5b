/** Who is calling: the key that authenticated the request and what it may do. */
export interface Principal {
  keyId: string;
  name: string;
  workspaceId?: string;
  /** Glob list of model ids or aliases this key may use; `*` matches any. */
  models: string[];
  limits: KeyLimits;
  /** The limits of the key's workspace, shared by all its keys. */
  workspaceLimits?: KeyLimits;
  /** MCP hosts this key, and its workspace, narrow the server's `mcp.allowed_hosts` to (absent = no narrowing). */
  mcpAllowedHosts?: string[];
  workspaceMcpAllowedHosts?: string[];
}

export interface KeyLimits {
  rpm?: number;
  /** Input + output tokens per minute. */
  tpm?: number;
  input_tpm?: number;
  output_tpm?: number;
  monthly_tokens?: number;
}

/** Resolves a presented API key to a principal; keys are only ever held as hashes. */
export interface KeyStore {
  authenticate(presentedKey: string): Promise<Principal | undefined>;
  close?(): Promise<void>;
}

/** `*` matches any run of characters, `?` one; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  let re = compiled.get(glob);
  if (!re) {
    re = compileGlob(glob);
    if (compiled.size < 10_000) compiled.set(glob, re);
  }
  return re;
}

const compiled = new Map<string, RegExp>();

function compileGlob(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

export function modelAllowed(principal: Principal, names: string[]): boolean {
  return principal.models.some((g) => names.some((n) => globToRegExp(g).test(n)));
}
