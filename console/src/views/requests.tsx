import { useContext, useEffect, useState } from "preact/hooks";
import { call, type LoggedRequest, type ModelStatus, type Page } from "../api.ts";
import { ErrorNote, formatNumber, formatTime } from "../common.tsx";
import { I18n, useT } from "../i18n.ts";

const POLL_MS = 3000;

/** The latest requests, filterable by status and model; the first page refreshes itself. */
export function RequestsView() {
  const t = useT();
  const { lang } = useContext(I18n);
  const [status, setStatus] = useState("");
  const [model, setModel] = useState("");
  const [after, setAfter] = useState<string | null>(null);
  const [models, setModels] = useState<string[]>([]);
  const [page, setPage] = useState<Page<LoggedRequest> | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    call<{ data: ModelStatus[] }>("GET", "/v1/parley/models")
      .then((r) => setModels(r.data.map((m) => m.id)))
      .catch(setError);
  }, []);

  useEffect(() => {
    let stopped = false;
    const load = async () => {
      const q = new URLSearchParams({ limit: "50" });
      if (status) q.set("status", status);
      if (model) q.set("model", model);
      if (after) q.set("after_id", after);
      try {
        const res = await call<Page<LoggedRequest>>("GET", `/v1/parley/requests?${q}`);
        if (!stopped) {
          setPage(res);
          setError(null);
        }
      } catch (err) {
        if (!stopped) setError(err);
      }
    };
    load();
    const timer = after ? undefined : setInterval(load, POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [status, model, after]);

  return (
    <section aria-labelledby="requests-h">
      <h2 id="requests-h">{t("requests")}</h2>
      <div class="row controls">
        <label>
          {t("status")}
          <select
            name="status"
            value={status}
            onChange={(e) => {
              setStatus(e.currentTarget.value);
              setAfter(null);
            }}
          >
            <option value="">{t("all")}</option>
            <option value="success">{t("success")}</option>
            <option value="error">{t("errors")}</option>
          </select>
        </label>
        <label>
          {t("model")}
          <select
            name="model"
            value={model}
            onChange={(e) => {
              setModel(e.currentTarget.value);
              setAfter(null);
            }}
          >
            <option value="">{t("all")}</option>
            {models.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        {after && (
          <button type="button" onClick={() => setAfter(null)}>
            {t("newest")}
          </button>
        )}
      </div>
      <ErrorNote error={error} />
      {!page ? (
        <p>{t("loading")}</p>
      ) : page.data.length === 0 ? (
        <p role="status">{t("noRequests")}</p>
      ) : (
        <div class="table-wrap">
          <table class="requests">
            <thead>
              <tr>
                <th scope="col">{t("time")}</th>
                <th scope="col">{t("key")}</th>
                <th scope="col">{t("model")}</th>
                <th scope="col">{t("status")}</th>
                <th scope="col">{t("tokens")}</th>
                <th scope="col">{t("latency")}</th>
                <th scope="col">{t("ttft")}</th>
                <th scope="col">{t("requestId")}</th>
              </tr>
            </thead>
            <tbody>
              {page.data.map((r) => (
                <tr key={r.request_id} data-request={r.request_id}>
                  <td>{formatTime(r.started_at, lang)}</td>
                  <td>{r.api_key ? (r.api_key.name ?? r.api_key.id) : "–"}</td>
                  <td>{r.model}</td>
                  <td class={r.status < 400 && !r.error_type ? "ok" : "bad"}>
                    {r.status}
                    {r.error_type ? ` ${r.error_type}` : ""}
                  </td>
                  <td>
                    {formatNumber(r.usage.input_tokens, lang)} → {formatNumber(r.usage.output_tokens, lang)}
                  </td>
                  <td>{r.latency_ms} ms</td>
                  <td>{r.ttft_ms === null ? "–" : `${r.ttft_ms} ms`}</td>
                  <td class="mono">{r.request_id}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page?.has_more && (
        <button type="button" onClick={() => setAfter(page.last_id)}>
          {t("older")}
        </button>
      )}
    </section>
  );
}
