// "Preview events": the next few events the task's source would deliver, decoded by the
// manager (POST /api/v1/preview) without saving or running the task.
import { useState } from "preact/hooks";
import { errorText, post } from "../api";
import { Notice } from "./Notice";

interface PreviewResult {
  events: any[];
  from?: string;
  waited_ms?: number;
  complete?: boolean;
}

const LIMIT = 10;
const WAIT_MS = 5000;

/// `config()` gives the config to preview; `task` names a stored task whose secrets the
/// manager fills in (the UI only ever sees them as ***).
export function Preview(props: { config: () => unknown; task?: string }) {
  const [result, setResult] = useState<PreviewResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function run() {
    setBusy(true);
    setError(null);
    try {
      const task = props.task ? `&task=${encodeURIComponent(props.task)}` : "";
      setResult(await post<PreviewResult>(`/preview?limit=${LIMIT}&wait_ms=${WAIT_MS}${task}`, props.config()));
    } catch (e) {
      setResult(null);
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }
  return (
    <section class="card" aria-labelledby="preview-title">
      <div class="section-head">
        <h2 id="preview-title">Preview events</h2>
        <button type="button" onClick={run} disabled={busy}>
          {busy ? "Waiting for events…" : "Preview events"}
        </button>
      </div>
      <p class="muted">The next {LIMIT} events from the source, decoded and filtered as this config would, waiting up to {WAIT_MS / 1000} s.</p>
      {error ? <Notice tone="error" title="Preview failed">{error}</Notice> : null}
      {result ? (
        <div class="preview" aria-label="Previewed events">
          <p class="muted">
            {result.events.length} event(s){result.from ? ` from ${result.from}` : ""}
            {result.waited_ms != null ? `, after ${result.waited_ms} ms` : ""}
            {result.complete === false ? " (more may follow)" : ""}
          </p>
          <ol class="events">
            {result.events.map((e, i) => (
              <li key={i}>
                <span class={`op op-${e.op}`}>{e.op}</span>
                <code>{e.db ? `${e.db}.${e.table}` : ""}</code>
                <pre>{JSON.stringify(e.after ?? e.before ?? e.sql ?? e.source ?? e, null, 0)}</pre>
              </li>
            ))}
          </ol>
        </div>
      ) : null}
    </section>
  );
}
