import { useCallback, useContext, useEffect, useState } from "preact/hooks";
import { type ApiKey, call, type Limits, listAll, type Workspace } from "../api.ts";
import { CopyButton, ErrorNote, formatTime } from "../common.tsx";
import { I18n, useT } from "../i18n.ts";
import { LimitsFields, limitsText } from "./limits-fields.tsx";

const globs = (text: string) =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** API keys and workspaces: list, create (secret shown once), rename, models and limits, deactivate. */
export function KeysView() {
  const t = useT();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [workspaces, setWorkspaces] = useState<Workspace[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [secret, setSecret] = useState<{ name: string; key: string } | null>(null);

  const reload = useCallback(async () => {
    try {
      const [k, w] = await Promise.all([
        listAll<ApiKey>("/v1/organizations/api_keys"),
        listAll<Workspace>("/v1/organizations/workspaces?include_archived=true"),
      ]);
      setKeys(k);
      setWorkspaces(w);
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, []);
  useEffect(() => {
    reload();
  }, [reload]);

  const act = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      await reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section aria-labelledby="keys-h">
      <h2 id="keys-h">{t("apiKeys")}</h2>
      <ErrorNote error={error} />
      {secret && (
        <section class="card secret" aria-label={t("secretOnce")}>
          <p>
            {t("secretOnce")} <strong>{secret.name}</strong>
          </p>
          <input
            readOnly
            aria-label={t("hint")}
            class="mono"
            value={secret.key}
            onFocus={(e) => e.currentTarget.select()}
          />
          <CopyButton text={secret.key} />
          <button type="button" onClick={() => setSecret(null)}>
            {t("done")}
          </button>
        </section>
      )}
      <CreateKey
        workspaces={workspaces.filter((w) => !w.archived_at)}
        onCreated={async (name, key) => {
          setSecret({ name, key });
          await reload();
        }}
        onError={setError}
      />
      {!keys ? (
        <p>{t("loading")}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("name")}</th>
                <th scope="col">{t("hint")}</th>
                <th scope="col">{t("status")}</th>
                <th scope="col">{t("workspace")}</th>
                <th scope="col">{t("models")}</th>
                <th scope="col">{t("limitsLegend")}</th>
                <th scope="col">{t("actions")}</th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <KeyRow
                  key={k.id}
                  apiKey={k}
                  workspace={workspaces.find((w) => w.id === k.workspace_id)?.name}
                  act={act}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Workspaces workspaces={workspaces} act={act} />
    </section>
  );
}

function CreateKey(props: {
  workspaces: Workspace[];
  onCreated: (name: string, key: string) => void;
  onError: (e: unknown) => void;
}) {
  const t = useT();
  const [name, setName] = useState("");
  const [workspace, setWorkspace] = useState("");
  const [models, setModels] = useState("*");
  const [limits, setLimits] = useState<Limits>({});
  return (
    <form
      class="card"
      aria-label={t("createKey")}
      onSubmit={async (e) => {
        e.preventDefault();
        try {
          const created = await call<{ key: string; name: string }>("POST", "/v1/organizations/api_keys", {
            name: name.trim(),
            workspace_id: workspace || null,
            models: globs(models),
            limits,
          });
          setName("");
          setLimits({});
          props.onCreated(created.name, created.key);
        } catch (err) {
          props.onError(err);
        }
      }}
    >
      <h3>{t("createKey")}</h3>
      <div class="row">
        <label>
          {t("name")}
          <input
            name="key-name"
            required
            maxLength={500}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        <label>
          {t("workspace")}
          <select
            name="key-workspace"
            value={workspace}
            onChange={(e) => setWorkspace(e.currentTarget.value)}
          >
            <option value="">{t("none")}</option>
            {props.workspaces.map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("modelGlobs")}
          <input name="key-models" value={models} onInput={(e) => setModels(e.currentTarget.value)} />
        </label>
      </div>
      <LimitsFields value={limits} onChange={setLimits} />
      <button type="submit">{t("createKey")}</button>
    </form>
  );
}

function KeyRow({
  apiKey: k,
  workspace,
  act,
}: {
  apiKey: ApiKey;
  workspace?: string;
  act: (fn: () => Promise<unknown>) => Promise<void>;
}) {
  const t = useT();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(k.name);
  const [models, setModels] = useState(k.models.join(", "));
  const [limits, setLimits] = useState<Limits>(k.limits);
  const update = (body: object) => act(() => call("POST", `/v1/organizations/api_keys/${k.id}`, body));
  if (editing) {
    return (
      <tr data-key={k.id}>
        <td colSpan={7}>
          <form
            class="card"
            aria-label={`${t("edit")} ${k.name}`}
            onSubmit={async (e) => {
              e.preventDefault();
              await update({ name: name.trim(), models: globs(models), limits });
              setEditing(false);
            }}
          >
            <div class="row">
              <label>
                {t("name")}
                <input
                  name="edit-name"
                  required
                  value={name}
                  onInput={(e) => setName(e.currentTarget.value)}
                />
              </label>
              <label>
                {t("modelGlobs")}
                <input name="edit-models" value={models} onInput={(e) => setModels(e.currentTarget.value)} />
              </label>
            </div>
            <LimitsFields value={limits} onChange={setLimits} />
            <button type="submit">{t("save")}</button>
            <button type="button" onClick={() => setEditing(false)}>
              {t("cancel")}
            </button>
          </form>
        </td>
      </tr>
    );
  }
  return (
    <tr data-key={k.id}>
      <th scope="row">{k.name}</th>
      <td class="mono">{k.partial_key_hint}</td>
      <td class={k.status === "active" ? "ok" : "bad"}>{t(k.status)}</td>
      <td>{workspace ?? "–"}</td>
      <td>{k.models.join(", ")}</td>
      <td>{limitsText(k.limits)}</td>
      <td class="actions">
        {k.status !== "archived" && (
          <>
            <button type="button" onClick={() => setEditing(true)} aria-label={`${t("edit")} ${k.name}`}>
              {t("edit")}
            </button>
            {k.status === "active" ? (
              <button
                type="button"
                onClick={() => update({ status: "inactive" })}
                aria-label={`${t("deactivate")} ${k.name}`}
              >
                {t("deactivate")}
              </button>
            ) : (
              <button
                type="button"
                onClick={() => update({ status: "active" })}
                aria-label={`${t("activate")} ${k.name}`}
              >
                {t("activate")}
              </button>
            )}
            <button
              type="button"
              aria-label={`${t("archive")} ${k.name}`}
              onClick={() => confirm(t("confirmArchive")) && update({ status: "archived" })}
            >
              {t("archive")}
            </button>
          </>
        )}
      </td>
    </tr>
  );
}

function Workspaces({
  workspaces,
  act,
}: {
  workspaces: Workspace[];
  act: (fn: () => Promise<unknown>) => Promise<void>;
}) {
  const t = useT();
  const { lang } = useContext(I18n);
  const [name, setName] = useState("");
  const [limits, setLimits] = useState<Limits>({});
  return (
    <>
      <h2>{t("workspaces")}</h2>
      <form
        class="card"
        aria-label={t("createWorkspace")}
        onSubmit={async (e) => {
          e.preventDefault();
          await act(() => call("POST", "/v1/organizations/workspaces", { name: name.trim(), limits }));
          setName("");
          setLimits({});
        }}
      >
        <label>
          {t("name")}
          <input
            name="workspace-name"
            required
            maxLength={40}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        <LimitsFields value={limits} onChange={setLimits} />
        <button type="submit">{t("createWorkspace")}</button>
      </form>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("name")}</th>
              <th scope="col">{t("status")}</th>
              <th scope="col">{t("limitsLegend")}</th>
              <th scope="col">{t("created")}</th>
              <th scope="col">{t("actions")}</th>
            </tr>
          </thead>
          <tbody>
            {workspaces.map((w) => (
              <WorkspaceRow key={w.id} workspace={w} lang={lang} act={act} />
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function WorkspaceRow({
  workspace: w,
  lang,
  act,
}: {
  workspace: Workspace;
  lang: string;
  act: (fn: () => Promise<unknown>) => Promise<void>;
}) {
  const t = useT();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(w.name);
  const [limits, setLimits] = useState<Limits>(w.limits);
  if (editing) {
    return (
      <tr>
        <td colSpan={5}>
          <form
            class="card"
            aria-label={`${t("edit")} ${w.name}`}
            onSubmit={async (e) => {
              e.preventDefault();
              await act(() =>
                call("POST", `/v1/organizations/workspaces/${w.id}`, { name: name.trim(), limits }),
              );
              setEditing(false);
            }}
          >
            <label>
              {t("name")}
              <input required maxLength={40} value={name} onInput={(e) => setName(e.currentTarget.value)} />
            </label>
            <LimitsFields value={limits} onChange={setLimits} />
            <button type="submit">{t("save")}</button>
            <button type="button" onClick={() => setEditing(false)}>
              {t("cancel")}
            </button>
          </form>
        </td>
      </tr>
    );
  }
  return (
    <tr>
      <th scope="row">{w.name}</th>
      <td>{w.archived_at ? t("archived") : t("active")}</td>
      <td>{limitsText(w.limits)}</td>
      <td>{formatTime(w.created_at, lang)}</td>
      <td class="actions">
        {!w.archived_at && (
          <>
            <button type="button" onClick={() => setEditing(true)} aria-label={`${t("edit")} ${w.name}`}>
              {t("edit")}
            </button>
            <button
              type="button"
              aria-label={`${t("archive")} ${w.name}`}
              onClick={() =>
                confirm(t("confirmArchive")) &&
                act(() => call("POST", `/v1/organizations/workspaces/${w.id}/archive`))
              }
            >
              {t("archive")}
            </button>
          </>
        )}
      </td>
    </tr>
  );
}
