import { useContext, useEffect, useState } from "preact/hooks";
import { ApiError, call, type ModelStatus } from "../api.ts";
import { ErrorNote, formatNumber } from "../common.tsx";
import { I18n, useT } from "../i18n.ts";

const POLL_MS = 3000;

/** Every model's state, slots and queue, polled every few seconds. */
export function ModelsView({ onUnauthorized }: { onUnauthorized: () => void }) {
  const t = useT();
  const { lang } = useContext(I18n);
  const [models, setModels] = useState<ModelStatus[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let stopped = false;
    const load = async () => {
      try {
        const res = await call<{ data: ModelStatus[] }>("GET", "/v1/parley/models");
        if (!stopped) {
          setModels(res.data);
          setError(null);
        }
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) onUnauthorized();
        if (!stopped) setError(err);
      }
    };
    load();
    const timer = setInterval(load, POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [onUnauthorized]);

  const state = (m: ModelStatus) => {
    if (!m.available) return `${t("unavailable")}${m.reason ? `: ${m.reason}` : ""}`;
    if (m.load === "loading") return t("loadingState");
    if (m.load === "not_loaded") return t("notLoaded");
    return m.load === "loaded" ? t("loaded") : t("available");
  };

  return (
    <section aria-labelledby="models-h">
      <h2 id="models-h">{t("models")}</h2>
      <ErrorNote error={error} />
      {!models ? (
        <p>{t("loading")}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("model")}</th>
                <th scope="col">{t("provider")}</th>
                <th scope="col">{t("status")}</th>
                <th scope="col">{t("window")}</th>
                <th scope="col">{t("slots")}</th>
                <th scope="col">{t("queue")}</th>
                <th scope="col">{t("upstreams")}</th>
              </tr>
            </thead>
            <tbody>
              {models.map((m) => (
                <tr key={m.id} data-model={m.id}>
                  <th scope="row">
                    {m.id}
                    {m.aliases.length > 0 && <span class="muted"> ({m.aliases.join(", ")})</span>}
                  </th>
                  <td>{m.provider}</td>
                  <td class={m.available ? "ok" : "bad"}>{state(m)}</td>
                  <td>{formatNumber(m.context_window, lang)}</td>
                  <td class="slots">
                    {m.slots.busy} / {m.slots.total ?? t("unbounded")}
                  </td>
                  <td class="queue">
                    {m.slots.queued} / {m.slots.max_queue}
                  </td>
                  <td>
                    {m.upstreams?.map((u) => (
                      <div key={u.url} class={u.healthy && u.breaker === "closed" ? "ok" : "bad"}>
                        {u.url}: {u.healthy ? t("healthy") : t("unhealthy")}, {t("breaker")} {u.breaker},{" "}
                        {u.in_flight} {t("inFlight")}
                      </div>
                    )) ?? "–"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
