/** A nullable JSON-array column of host names (`mcp_allowed_hosts`): null means "no list". */
export function hostsFromColumn(value: string | null | undefined): string[] | undefined {
  if (value === null || value === undefined) return undefined;
  const parsed: unknown = JSON.parse(value);
  return Array.isArray(parsed) ? parsed.map(String) : undefined;
}

export function hostsToColumn(hosts: string[] | null | undefined): string | null {
  return hosts ? JSON.stringify(hosts) : null;
}
