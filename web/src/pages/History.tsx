// History: a task's config revisions with a diff between any two, and the audit log (who did
// what, when), optionally for one task.
import { useEffect, useState } from "preact/hooks";
import { errorText, get } from "../api";
import { Notice } from "../components/Notice";
import { diffLines, stableJson } from "../diff";
import { time } from "../format";
import { navigate } from "../router";
import { useSignal } from "../signal";
import { snapshot } from "../stream";
import type { AuditEntry, Revision } from "../types";

function RevisionDiff({ task }: { task: string }) {
  const [revisions, setRevisions] = useState<Revision[]>([]);
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  const [configs, setConfigs] = useState<[any, any] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const enc = encodeURIComponent(task);
  useEffect(() => {
    setConfigs(null);
    get<Revision[]>(`/tasks/${enc}/revisions`).then((r) => {
      setRevisions(r);
      setTo(r[0]?.revision ?? null);
      setFrom(r[1]?.revision ?? r[0]?.revision ?? null);
    }, (e) => setError(errorText(e)));
  }, [task]);
  useEffect(() => {
    if (from == null || to == null) return;
    Promise.all([get<Revision>(`/tasks/${enc}/revisions/${from}`), get<Revision>(`/tasks/${enc}/revisions/${to}`)]).then(
      ([a, b]) => setConfigs([a.config, b.config]),
      (e) => setError(errorText(e)),
    );
  }, [from, to]);
  const choice = (label: string, value: number | null, set: (v: number) => void) => (
    <label>
      {label}
      <select value={value ?? ""} onChange={(e) => set(Number(e.currentTarget.value))}>
        {revisions.map((r) => (
          <option key={r.revision} value={r.revision}>
            {`revision ${r.revision} · ${r.author} · ${time(r.created_at_ms)}`}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <section class="card" aria-labelledby="revisions-title">
      <h2 id="revisions-title">Config revisions of {task}</h2>
      {error ? <Notice tone="error">{error}</Notice> : null}
      <div class="toolbar">
        {choice("Compare", from, setFrom)}
        {choice("with", to, setTo)}
      </div>
      {configs ? (
        <pre class="diff" aria-label={`Diff of revision ${from} and ${to}`}>
          {diffLines(stableJson(configs[0]), stableJson(configs[1])).map((l, i) => (
            <div key={i} class={`diff-${l.kind}`}>
              {l.kind === "added" ? "+ " : l.kind === "removed" ? "- " : "  "}
              {l.text}
            </div>
          ))}
        </pre>
      ) : null}
    </section>
  );
}

export function History({ task }: { task: string | null }) {
  const snap = useSignal(snapshot);
  const [audit, setAudit] = useState<AuditEntry[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const query = task ? `?task=${encodeURIComponent(task)}&limit=200` : "?limit=200";
    get<AuditEntry[]>(`/audit${query}`).then(setAudit, (e) => setError(errorText(e)));
  }, [task]);
  const names = (snap?.tasks ?? []).map((t) => t.name).sort();
  return (
    <main>
      <div class="page-head">
        <h1>History</h1>
        <label>
          Task
          <select value={task ?? ""} onChange={(e) => navigate(e.currentTarget.value ? `/history?task=${encodeURIComponent(e.currentTarget.value)}` : "/history")}>
            <option value="">All tasks</option>
            {names.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
      </div>
      {task ? <RevisionDiff task={task} /> : <p class="muted">Pick a task to compare its config revisions.</p>}
      <section class="card" aria-labelledby="audit-title">
        <h2 id="audit-title">Audit log</h2>
        {error ? <Notice tone="error">{error}</Notice> : null}
        <div class="table-wrap">
          <table aria-label="Audit log">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Task</th>
                <th scope="col">What</th>
              </tr>
            </thead>
            <tbody>
              {audit.map((a, i) => (
                <tr key={i}>
                  <td class="nowrap">{time(a.at_ms)}</td>
                  <td>{a.actor}</td>
                  <td>
                    <code>{a.action}</code>
                  </td>
                  <td>{a.task ?? "–"}</td>
                  <td>{a.summary}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </main>
  );
}
