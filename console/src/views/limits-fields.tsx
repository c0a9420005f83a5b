import { LIMIT_NAMES, type Limits } from "../api.ts";
import { useT } from "../i18n.ts";

/** Limit inputs; an empty field means unlimited. */
export function LimitsFields({ value, onChange }: { value: Limits; onChange: (l: Limits) => void }) {
  const t = useT();
  return (
    <fieldset>
      <legend>{t("limitsLegend")}</legend>
      {LIMIT_NAMES.map((name) => (
        <label key={name}>
          {t(name)}
          <input
            type="number"
            min={1}
            step={1}
            name={name}
            value={value[name] ?? ""}
            onInput={(e) => {
              const n = e.currentTarget.valueAsNumber;
              const next = { ...value };
              if (Number.isFinite(n) && n >= 1) next[name] = Math.floor(n);
              else delete next[name];
              onChange(next);
            }}
          />
        </label>
      ))}
    </fieldset>
  );
}

export const limitsText = (l: Limits) =>
  LIMIT_NAMES.filter((n) => l[n] !== undefined)
    .map((n) => `${n} ${l[n]}`)
    .join(", ") || "–";
