import { useState } from "preact/hooks";
import { ApiError } from "./api.ts";
import { useT } from "./i18n.ts";

/** Copies text; where the clipboard is refused the text stays selectable beside the button. */
export function CopyButton({ text, label }: { text: string; label?: string }) {
  const t = useT();
  const [state, setState] = useState<"idle" | "ok" | "failed">("idle");
  return (
    <span class="copy">
      <button
        type="button"
        onClick={async () => {
          try {
            await navigator.clipboard.writeText(text);
            setState("ok");
          } catch {
            setState("failed");
          }
        }}
      >
        {label ?? t("copy")}
      </button>
      <span role="status" class="muted">
        {state === "ok" ? t("copied") : state === "failed" ? t("copyFailed") : ""}
      </span>
    </span>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  const t = useT();
  if (!error) return null;
  const text =
    error instanceof ApiError
      ? `${error.status} ${error.type}: ${error.message}`
      : error instanceof Error
        ? error.message
        : String(error);
  return (
    <p role="alert" class="error">
      {t("error")}: {text}
    </p>
  );
}

export const formatTime = (iso: string, lang: string) =>
  new Date(iso).toLocaleString(lang, { dateStyle: "short", timeStyle: "medium" });

export const formatNumber = (n: number | null | undefined, lang: string) =>
  n === null || n === undefined ? "–" : n.toLocaleString(lang);
