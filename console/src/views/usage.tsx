import { useContext, useEffect, useMemo, useState } from "preact/hooks";
import { type ApiKey, call, listAll, type UsageReport, type UsageResult } from "../api.ts";
import { ErrorNote, formatNumber } from "../common.tsx";
import { I18n, type Key, useT } from "../i18n.ts";
import { Chart, type Series } from "./chart.tsx";

const RANGES = {
  lastHour: 3_600_000,
  lastDay: 86_400_000,
  lastWeek: 7 * 86_400_000,
  lastMonth: 30 * 86_400_000,
};
type Range = keyof typeof RANGES;
const BUCKETS = { "1m": 60_000, "1h": 3_600_000, "1d": 86_400_000 };
type Bucket = keyof typeof BUCKETS;
const DEFAULT_BUCKET: Record<Range, Bucket> = {
  lastHour: "1m",
  lastDay: "1h",
  lastWeek: "1h",
  lastMonth: "1d",
};
/** More buckets than this would make a chart nobody can read (and many report pages). */
const MAX_BUCKETS = 1440;
const PAGE_LIMIT: Record<Bucket, number> = { "1m": 1440, "1h": 168, "1d": 31 };

type Group = "model" | "api_key_id";
const tokensOf = (r: UsageResult) =>
  r.uncached_input_tokens +
  r.output_tokens +
  r.cache_read_input_tokens +
  r.cache_creation.ephemeral_5m_input_tokens +
  r.cache_creation.ephemeral_1h_input_tokens;

/** Tokens and requests over time by model or key, from the usage report. */
export function UsageView() {
  const t = useT();
  const { lang } = useContext(I18n);
  const [range, setRange] = useState<Range>("lastHour");
  const [bucket, setBucket] = useState<Bucket>("1m");
  const [group, setGroup] = useState<Group>("model");
  const [report, setReport] = useState<UsageReport["data"] | null>(null);
  const [keyNames, setKeyNames] = useState<Map<string, string>>(new Map());
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const tooMany = RANGES[range] / BUCKETS[bucket] > MAX_BUCKETS;

  useEffect(() => {
    listAll<ApiKey>("/v1/organizations/api_keys")
      .then((keys) => setKeyNames(new Map(keys.map((k) => [k.id, k.name]))))
      .catch(setError);
  }, [tick]);

  useEffect(() => {
    if (tooMany) return;
    let stopped = false;
    (async () => {
      try {
        const start = new Date(Date.now() - RANGES[range]).toISOString();
        const buckets: UsageReport["data"] = [];
        let page: string | null = null;
        for (let i = 0; i < 40; i++) {
          const q = new URLSearchParams({
            starting_at: start,
            bucket_width: bucket,
            limit: String(PAGE_LIMIT[bucket]),
            "group_by[]": group,
          });
          if (page) q.set("page", page);
          const res: UsageReport = await call("GET", `/v1/organizations/usage_report/messages?${q}`);
          buckets.push(...res.data);
          page = res.next_page;
          if (!res.has_more || !page) break;
        }
        if (!stopped) {
          setReport(buckets);
          setError(null);
        }
      } catch (err) {
        if (!stopped) setError(err);
      }
    })();
    return () => {
      stopped = true;
    };
  }, [range, bucket, group, tooMany, tick]);

  const label = (r: UsageResult) =>
    group === "model" ? (r.model ?? "–") : r.api_key_id ? (keyNames.get(r.api_key_id) ?? r.api_key_id) : "–";

  const { times, tokens, requests, totals } = useMemo(() => {
    const data = report ?? [];
    const labels = [...new Set(data.flatMap((b) => b.results.map(label)))].sort();
    const series = (pick: (r: UsageResult) => number): Series[] =>
      labels.map((l) => ({
        label: l,
        values: data.map((b) => b.results.filter((r) => label(r) === l).reduce((n, r) => n + pick(r), 0)),
      }));
    const tokens = series(tokensOf);
    const requests = series((r) => r.request_count ?? 0);
    return {
      times: data.map((b) => Date.parse(b.starting_at) / 1000),
      tokens,
      requests,
      totals: labels.map((l, i) => ({
        label: l,
        tokens: tokens[i].values.reduce((a, b) => a + b, 0),
        requests: requests[i].values.reduce((a, b) => a + b, 0),
      })),
    };
  }, [report, group, keyNames]);

  const rangeNames: Key[] = ["lastHour", "lastDay", "lastWeek", "lastMonth"];
  return (
    <section aria-labelledby="usage-h">
      <h2 id="usage-h">{t("usage")}</h2>
      <div class="row controls">
        <label>
          {t("range")}
          <select
            name="range"
            value={range}
            onChange={(e) => {
              const r = e.currentTarget.value as Range;
              setRange(r);
              setBucket(DEFAULT_BUCKET[r]);
            }}
          >
            {rangeNames.map((r) => (
              <option key={r} value={r}>
                {t(r)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("bucket")}
          <select name="bucket" value={bucket} onChange={(e) => setBucket(e.currentTarget.value as Bucket)}>
            {Object.keys(BUCKETS).map((b) => (
              <option key={b} value={b}>
                {b}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("groupBy")}
          <select name="group" value={group} onChange={(e) => setGroup(e.currentTarget.value as Group)}>
            <option value="model">{t("byModel")}</option>
            <option value="api_key_id">{t("byKey")}</option>
          </select>
        </label>
        <button type="button" onClick={() => setTick((n) => n + 1)}>
          {t("refresh")}
        </button>
      </div>
      <ErrorNote error={error} />
      {tooMany ? (
        <p role="status">{t("rangeTooLong")}</p>
      ) : !report ? (
        <p>{t("loading")}</p>
      ) : totals.length === 0 ? (
        <p role="status">{t("noData")}</p>
      ) : (
        <>
          <Chart title={t("tokens")} times={times} series={tokens} />
          <Chart title={t("requestsChart")} times={times} series={requests} />
          <div class="table-wrap">
            <table class="usage-totals">
              <thead>
                <tr>
                  <th scope="col">{group === "model" ? t("byModel") : t("byKey")}</th>
                  <th scope="col">{t("tokens")}</th>
                  <th scope="col">{t("requestsChart")}</th>
                </tr>
              </thead>
              <tbody>
                {totals.map((row) => (
                  <tr key={row.label}>
                    <th scope="row">{row.label}</th>
                    <td>{formatNumber(row.tokens, lang)}</td>
                    <td>{formatNumber(row.requests, lang)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
