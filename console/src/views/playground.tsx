import { useEffect, useRef, useState } from "preact/hooks";
import { call, type ModelStatus, session } from "../api.ts";
import { CopyButton, ErrorNote } from "../common.tsx";
import { useT } from "../i18n.ts";
import { curlCommand, sdkSnippet } from "../snippets.ts";
import { type Reply, replyContent, streamMessage } from "../stream.ts";

interface Turn {
  role: "user" | "assistant";
  /** Plain text, or a JSON array of content blocks (e.g. a tool_use reply, a tool_result). */
  text: string;
}

const contentOf = (text: string): unknown => {
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) {
    try {
      return JSON.parse(trimmed);
    } catch {
      // Sent as text.
    }
  }
  return text;
};

/** Streams a reply from /v1/messages with an ordinary API key (admin keys cannot call it). */
export function PlaygroundView() {
  const t = useT();
  const [apiKey, setApiKey] = useState(session.apiKey);
  const [keyDraft, setKeyDraft] = useState("");
  const [models, setModels] = useState<string[]>([]);
  const [model, setModel] = useState("");
  const [system, setSystem] = useState("");
  const [turns, setTurns] = useState<Turn[]>([{ role: "user", text: "" }]);
  const [tools, setTools] = useState("");
  const [maxTokens, setMaxTokens] = useState(1024);
  const [thinking, setThinking] = useState("");
  const [reply, setReply] = useState<Reply | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);

  useEffect(() => {
    const fromApi = apiKey
      ? call<{ data: { id: string }[] }>("GET", "/v1/models?limit=1000", undefined, apiKey)
      : call<{ data: ModelStatus[] }>("GET", "/v1/parley/models");
    fromApi
      .then((r) => {
        const ids = r.data.map((m) => m.id);
        setModels(ids);
        setModel((m) => (ids.includes(m) ? m : (ids[0] ?? "")));
      })
      .catch(setError);
  }, [apiKey]);

  const toolsValue = (): unknown[] | undefined => {
    if (!tools.trim()) return undefined;
    const parsed = JSON.parse(tools) as unknown;
    if (!Array.isArray(parsed)) throw new Error(t("badTools"));
    return parsed;
  };
  const body = (): Record<string, unknown> => {
    const b: Record<string, unknown> = {
      model,
      max_tokens: maxTokens,
      messages: turns.map((m) => ({ role: m.role, content: contentOf(m.text) })),
    };
    if (system.trim()) b.system = system;
    const tv = toolsValue();
    if (tv) b.tools = tv;
    const budget = Number.parseInt(thinking, 10);
    if (Number.isFinite(budget) && budget > 0) b.thinking = { type: "enabled", budget_tokens: budget };
    return b;
  };
  const safeBody = () => {
    try {
      return body();
    } catch {
      return { model, max_tokens: maxTokens, messages: [] };
    }
  };

  const send = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setReply(null);
    let payload: object;
    try {
      payload = body();
    } catch (err) {
      setError(err);
      return;
    }
    abort.current = new AbortController();
    setBusy(true);
    try {
      await streamMessage(payload, apiKey, abort.current.signal, setReply);
    } catch (err) {
      if (!(err instanceof DOMException && err.name === "AbortError")) setError(err);
    } finally {
      setBusy(false);
    }
  };

  const setTurn = (i: number, change: Partial<Turn>) =>
    setTurns((ts) => ts.map((x, j) => (j === i ? { ...x, ...change } : x)));

  if (!apiKey) {
    return (
      <section aria-labelledby="pg-h">
        <h2 id="pg-h">{t("playground")}</h2>
        <form
          class="card narrow"
          onSubmit={(e) => {
            e.preventDefault();
            session.setApiKey(keyDraft.trim());
            setApiKey(keyDraft.trim());
          }}
        >
          <p class="muted">{t("apiKeyHelp")}</p>
          <label>
            {t("apiKeyForPlayground")}
            <input
              type="password"
              name="api-key"
              autoComplete="off"
              required
              value={keyDraft}
              onInput={(e) => setKeyDraft(e.currentTarget.value)}
            />
          </label>
          <button type="submit">{t("useKey")}</button>
        </form>
      </section>
    );
  }

  return (
    <section aria-labelledby="pg-h">
      <h2 id="pg-h">{t("playground")}</h2>
      <form class="card" onSubmit={send} aria-label={t("playground")}>
        <div class="row">
          <label>
            {t("model")}
            <select name="model" value={model} onChange={(e) => setModel(e.currentTarget.value)}>
              {models.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
          </label>
          <label>
            {t("maxTokens")}
            <input
              type="number"
              name="max-tokens"
              min={1}
              value={maxTokens}
              onInput={(e) => setMaxTokens(e.currentTarget.valueAsNumber || 1)}
            />
          </label>
          <label>
            {t("thinking")}
            <input
              type="number"
              name="thinking"
              min={1}
              value={thinking}
              onInput={(e) => setThinking(e.currentTarget.value)}
            />
          </label>
          <button
            type="button"
            onClick={() => {
              session.setApiKey("");
              setApiKey("");
            }}
          >
            {t("forgetApiKey")}
          </button>
        </div>
        <label>
          {t("system")}
          <textarea name="system" rows={2} value={system} onInput={(e) => setSystem(e.currentTarget.value)} />
        </label>
        <fieldset>
          <legend>{t("messages")}</legend>
          {turns.map((turn, i) => (
            <div class="turn" key={i}>
              <label>
                {t("role")} {i + 1}
                <select
                  value={turn.role}
                  onChange={(e) => setTurn(i, { role: e.currentTarget.value as Turn["role"] })}
                >
                  <option value="user">{t("user")}</option>
                  <option value="assistant">{t("assistant")}</option>
                </select>
              </label>
              <label>
                {t("content")} {i + 1}
                <textarea
                  rows={3}
                  value={turn.text}
                  onInput={(e) => setTurn(i, { text: e.currentTarget.value })}
                />
              </label>
              {turns.length > 1 && (
                <button type="button" onClick={() => setTurns((ts) => ts.filter((_, j) => j !== i))}>
                  {t("remove")} {i + 1}
                </button>
              )}
            </div>
          ))}
          <button type="button" onClick={() => setTurns((ts) => [...ts, { role: "user", text: "" }])}>
            {t("addMessage")}
          </button>
        </fieldset>
        <label>
          {t("tools")}
          <textarea
            name="tools"
            rows={4}
            class="mono"
            placeholder='[{"name": "get_weather", "input_schema": {"type": "object"}}]'
            value={tools}
            onInput={(e) => setTools(e.currentTarget.value)}
          />
        </label>
        <div class="row">
          <button type="submit" disabled={busy || !model}>
            {t("send")}
          </button>
          {busy && (
            <button type="button" onClick={() => abort.current?.abort()}>
              {t("stop")}
            </button>
          )}
          <CopyButton label={t("copyCurl")} text={curlCommand(location.origin, safeBody())} />
          <CopyButton label={t("copySdk")} text={sdkSnippet(location.origin, safeBody())} />
        </div>
      </form>
      <ErrorNote error={error} />
      <ReplyView
        reply={reply}
        busy={busy}
        onAdd={() => {
          if (!reply) return;
          setTurns((ts) => [
            ...ts,
            { role: "assistant", text: JSON.stringify(replyContent(reply), null, 2) },
            { role: "user", text: "" },
          ]);
          setReply(null);
        }}
      />
    </section>
  );
}

function ReplyView({ reply, busy, onAdd }: { reply: Reply | null; busy: boolean; onAdd: () => void }) {
  const t = useT();
  return (
    <section class="card reply" aria-labelledby="reply-h" aria-busy={busy}>
      <h3 id="reply-h">{t("reply")}</h3>
      <div class="blocks" aria-live="polite" aria-atomic="false">
        {reply?.blocks.map((b, i) => {
          if (b.type === "text")
            return (
              <p key={i} class="block text">
                {b.text}
              </p>
            );
          if (b.type === "thinking")
            return (
              <details key={i} class="block thinking" open>
                <summary>{t("thinkingBlock")}</summary>
                <p>{b.thinking}</p>
              </details>
            );
          if (b.type === "tool_use")
            return (
              <div key={i} class="block tool-use">
                <strong>
                  {t("toolUse")}: {b.name}
                </strong>{" "}
                <span class="mono muted">{b.id}</span>
                <pre class="mono">{b.partial_json || JSON.stringify(b.input)}</pre>
              </div>
            );
          return (
            <pre key={i} class="block mono">
              {JSON.stringify(b.raw)}
            </pre>
          );
        })}
      </div>
      {busy && <p class="muted">{t("streaming")}</p>}
      {reply?.error && <ErrorNote error={new Error(`${reply.error.type}: ${reply.error.message}`)} />}
      {reply && (
        <dl class="meta">
          <dt>{t("requestId")}</dt>
          <dd class="mono request-id">{reply.requestId ?? "–"}</dd>
          <dt>{t("stopReason")}</dt>
          <dd class="stop-reason">{reply.stopReason ?? "–"}</dd>
          <dt>{t("usage")}</dt>
          <dd class="mono usage">{JSON.stringify(reply.usage)}</dd>
        </dl>
      )}
      {reply && !busy && (
        <button type="button" onClick={onAdd}>
          {t("addReply")}
        </button>
      )}
    </section>
  );
}
