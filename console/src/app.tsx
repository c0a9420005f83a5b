import { useEffect, useLayoutEffect, useMemo, useState } from "preact/hooks";
import { session } from "./api.ts";
import { I18n, initialLang, type Key, LANGS, type Lang, saveLang, translator } from "./i18n.ts";
import { KeysView } from "./views/keys.tsx";
import { LoginView } from "./views/login.tsx";
import { ModelsView } from "./views/models.tsx";
import { PlaygroundView } from "./views/playground.tsx";
import { RequestsView } from "./views/requests.tsx";
import { UsageView } from "./views/usage.tsx";

const VIEWS = ["models", "keys", "usage", "requests", "playground"] as const satisfies readonly Key[];
type View = (typeof VIEWS)[number];

const viewFromHash = (): View => {
  const name = location.hash.replace(/^#\/?/, "");
  return (VIEWS as readonly string[]).includes(name) ? (name as View) : "models";
};

export function App() {
  const [lang, setLang] = useState<Lang>(initialLang);
  const [adminKey, setAdminKey] = useState(session.adminKey);
  const [view, setView] = useState<View>(viewFromHash);
  const i18n = useMemo(() => ({ lang, t: translator(lang) }), [lang]);
  const { t } = i18n;

  // A layout effect, not a plain one: <html lang> changes in the same commit as the text, so a
  // screen reader (or a test) never sees Chinese text under lang="en". A plain effect runs after
  // paint, and the browser test caught the window between the two.
  useLayoutEffect(() => {
    saveLang(lang);
    document.title = t("title");
  }, [lang, t]);
  useEffect(() => {
    // A new view: focus its content, so screen readers and the keyboard start there.
    const onHash = () => {
      setView(viewFromHash());
      document.getElementById("main")?.focus();
    };
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);

  const logout = () => {
    session.setAdminKey("");
    setAdminKey("");
  };

  return (
    <I18n.Provider value={i18n}>
      <button type="button" class="skip" onClick={() => document.getElementById("main")?.focus()}>
        {t("skip")}
      </button>
      <header>
        <h1>{t("title")}</h1>
        <label class="lang">
          {t("language")}{" "}
          <select value={lang} onChange={(e) => setLang(e.currentTarget.value as Lang)}>
            {LANGS.map((l) => (
              <option value={l.id} key={l.id}>
                {l.label}
              </option>
            ))}
          </select>
        </label>
        {adminKey && (
          <button type="button" onClick={logout}>
            {t("logout")}
          </button>
        )}
      </header>
      {adminKey && (
        <nav aria-label={t("nav")}>
          <ul>
            {VIEWS.map((v) => (
              <li key={v}>
                <a href={`#/${v}`} aria-current={view === v ? "page" : undefined}>
                  {t(v)}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      )}
      <main id="main" tabIndex={-1}>
        {!adminKey ? (
          <LoginView
            onLogin={(k) => {
              session.setAdminKey(k);
              setAdminKey(k);
            }}
          />
        ) : (
          <Current view={view} onUnauthorized={logout} />
        )}
      </main>
    </I18n.Provider>
  );
}

function Current({ view, onUnauthorized }: { view: View; onUnauthorized: () => void }) {
  switch (view) {
    case "models":
      return <ModelsView onUnauthorized={onUnauthorized} />;
    case "keys":
      return <KeysView />;
    case "usage":
      return <UsageView />;
    case "requests":
      return <RequestsView />;
    case "playground":
      return <PlaygroundView />;
  }
}
