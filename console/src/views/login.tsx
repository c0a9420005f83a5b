import { useState } from "preact/hooks";
import { call } from "../api.ts";
import { ErrorNote } from "../common.tsx";
import { useT } from "../i18n.ts";

/** Checks the key against an admin endpoint before keeping it. */
export function LoginView({ onLogin }: { onLogin: (key: string) => void }) {
  const t = useT();
  const [key, setKey] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="card narrow"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          await call("GET", "/v1/parley/models", undefined, key.trim());
          onLogin(key.trim());
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>{t("loginTitle")}</h2>
      <p class="muted">{t("loginHelp")}</p>
      <label>
        {t("adminKey")}
        <input
          type="password"
          name="admin-key"
          autoComplete="off"
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
        />
      </label>
      <button type="submit" disabled={busy}>
        {t("login")}
      </button>
      <ErrorNote error={error} />
    </form>
  );
}
