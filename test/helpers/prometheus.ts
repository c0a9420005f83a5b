/** One scrape of `/metrics` as `name{sorted labels}` → value, with a lookup that fills in zero. */
export interface Scrape {
  text: string;
  /** The sample's value, 0 when absent (a counter never incremented is not printed). */
  value(name: string, labels?: Record<string, string>): number;
}

/** Parses the Prometheus text exposition (no escapes in our label values, so a line regex does). */
export function parseScrape(text: string): Scrape {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels = Object.fromEntries(
      [...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1] as string, l[2] as string]),
    );
    samples.set(key(m[1] as string, labels), Number(m[3]));
  }
  return { text, value: (name, labels = {}) => samples.get(key(name, labels)) ?? 0 };
}

const key = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(",")}}`;

export async function scrape(url: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await fetch(`${url}/metrics`, { headers });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${await res.text()}`);
  return parseScrape(await res.text());
}
