// One task: live state, owner, lag and throughput over time, sinks and the last error where it
// happened, the snapshot in progress, and the actions an admin may take (pause, resume, restart
// from a position, snapshot tables, edit, delete).
import { useEffect, useState } from "preact/hooks";
import { errorText, get, post, api } from "../api";
import { Chart } from "../components/Chart";
import { Link } from "../components/Link";
import { Notice } from "../components/Notice";
import { Preview } from "../components/Preview";
import { StateBadge } from "../components/StateBadge";
import { ago, count, duration, position, rate } from "../format";
import { navigate } from "../router";
import { isAdmin } from "../session";
import { useSignal } from "../signal";
import { history, snapshot } from "../stream";
import { ownerOf, shownState, type CoordinatorView, type TaskView } from "../types";

export function TaskPage({ name }: { name: string }) {
  const snap = useSignal(snapshot);
  const [task, setTask] = useState<TaskView | null>(null);
  const [notice, setNotice] = useState<{ tone: "ok" | "error"; text: string } | null>(null);
  const [position_, setPosition] = useState("");
  const [tables, setTables] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    get<TaskView>(`/tasks/${encodeURIComponent(name)}`).then(setTask, (e) => setNotice({ tone: "error", text: errorText(e) }));
  }, [name, snap?.tasks.find((t) => t.name === name)?.revision]);

  const live = snap?.tasks.find((t) => t.name === name);
  const status = live?.coordinator?.status;
  const points = history.get(name) ?? [];
  const admin = isAdmin();
  const path = `/tasks/${encodeURIComponent(name)}`;

  async function act(what: string, call: () => Promise<unknown>, done: string) {
    setBusy(true);
    setNotice(null);
    try {
      await call();
      setNotice({ tone: "ok", text: done });
    } catch (e) {
      setNotice({ tone: "error", text: `${what}: ${errorText(e)}` });
    } finally {
      setBusy(false);
    }
  }

  if (!live && snap && !task) {
    return (
      <main>
        <h1>{name}</h1>
        {notice ? <Notice tone="error">{notice.text}</Notice> : <p class="muted">Loading…</p>}
      </main>
    );
  }
  const state = live ? shownState(live) : "unknown";
  const paused = live?.desired === "paused";
  return (
    <main>
      <div class="page-head">
        <div>
          <p class="crumbs">
            <Link href="/">Tasks</Link> /
          </p>
          <h1>
            {name} <StateBadge state={state} />
          </h1>
        </div>
        {admin ? (
          <div class="actions" role="group" aria-label="Task actions">
            {paused ? (
              <button type="button" class="primary" disabled={busy} onClick={() => act("Resume", () => post(`${path}/resume`), "Resume asked: a node will claim the task.")}>
                Resume
              </button>
            ) : (
              <button type="button" disabled={busy} onClick={() => act("Pause", () => post(`${path}/pause`), "Pause asked: the owner stops after its checkpoint.")}>
                Pause
              </button>
            )}
            <Link href={`${path}/edit`} class="button">
              Edit
            </Link>
            <Link href={`/history?task=${encodeURIComponent(name)}`} class="button">
              History
            </Link>
            <button
              type="button"
              class="danger"
              disabled={busy}
              onClick={() => {
                if (confirm(`Delete task ${name}? Its config history stays in the audit log.`))
                  act("Delete", () => api("DELETE", path), "Deleted.").then(() => navigate("/"));
              }}
            >
              Delete
            </button>
          </div>
        ) : null}
      </div>
      {notice ? <Notice tone={notice.tone}>{notice.text}</Notice> : null}
      {status?.last_error ? (
        <Notice tone="error" title={`Task error${status.node ? ` on ${status.node}` : ""}`}>
          {status.last_error}
        </Notice>
      ) : null}

      <dl class="stats" aria-label="Task status">
        <div>
          <dt>Owner</dt>
          <dd class="owner" data-testid="owner">{live ? ownerOf(live) ?? "none" : "–"}</dd>
        </div>
        <div>
          <dt>Lag</dt>
          <dd>{duration(status?.lag_ms)}</dd>
        </div>
        <div>
          <dt>Throughput</dt>
          <dd>{rate(status?.events_per_sec)}</dd>
        </div>
        <div>
          <dt>Events delivered</dt>
          <dd data-testid="events-total">{count(status?.events_total)}</dd>
        </div>
        <div>
          <dt>Revision</dt>
          <dd>
            {live?.revision ?? task?.revision ?? "–"}
            {live && live.published_revision < live.revision ? " (not yet published)" : ""}
          </dd>
        </div>
        <div>
          <dt>Checkpoint</dt>
          <dd>{position(live?.coordinator?.checkpoint?.position)}</dd>
        </div>
        <div>
          <dt>Last report</dt>
          <dd>{ago(status?.at_ms, snap?.at_ms)}</dd>
        </div>
        <div>
          <dt>Snapshot</dt>
          <dd data-testid="snapshot">{snapshotText(live?.coordinator)}</dd>
        </div>
      </dl>

      <div class="charts">
        <Chart title="Lag" points={points.map((p) => ({ at_ms: p.at_ms, value: p.lag_ms }))} unit={duration} />
        <Chart title="Throughput" points={points.map((p) => ({ at_ms: p.at_ms, value: p.events_per_sec }))} unit={rate} />
      </div>

      <section class="card" aria-labelledby="sinks-title">
        <h2 id="sinks-title">Sinks</h2>
        <div class="table-wrap">
          <table aria-label="Sinks">
            <thead>
              <tr>
                <th scope="col">Sink</th>
                <th scope="col">Type</th>
                <th scope="col">State</th>
                <th scope="col">Last error</th>
              </tr>
            </thead>
            <tbody>
              {(task?.config?.sinks ?? []).map((s: any) => {
                const sinkName = s.name ?? s.type;
                const report = status?.sinks?.find((r) => r.name === sinkName);
                return (
                  <tr key={sinkName}>
                    <td>{sinkName}</td>
                    <td>{s.type}</td>
                    <td>{report ? <StateBadge state={report.state} /> : "–"}</td>
                    <td class={report?.last_error ? "error-text" : "muted"}>{report?.last_error ?? "none"}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>

      {admin ? (
        <section class="card" aria-labelledby="restart-title">
          <h2 id="restart-title">Restart from a position</h2>
          <p class="muted">Replaces the checkpoint: the next run starts there. Pause the task first and wait until it has no owner.</p>
          <form
            class="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              act("Restart", () => post(`${path}/restart`, { position: position_.trim() }), `Checkpoint set to ${position_.trim()}: resume the task to start there.`);
            }}
          >
            <label>
              Position
              <input placeholder="binlog.000042:4" value={position_} onInput={(e) => setPosition(e.currentTarget.value)} required />
            </label>
            <button type="submit" disabled={busy || !paused || !!live?.coordinator?.owner}>
              Restart from position
            </button>
          </form>
        </section>
      ) : null}

      {admin ? (
        <section class="card" aria-labelledby="snapshot-title">
          <h2 id="snapshot-title">Snapshot tables</h2>
          <p class="muted">Delivers the rows the tables hold now (as <code>r</code> events) while the task keeps streaming. Each table must be one the task's filters include; the task needs a <code>snapshot.signal_table</code>.</p>
          <form
            class="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              const names = tables.split(",").map((t) => t.trim()).filter((t) => t !== "");
              act("Snapshot", () => post(`${path}/snapshot`, { tables: names }), `Snapshot of ${names.join(", ")} requested: the node running the task takes it next.`);
            }}
          >
            <label>
              Tables (db.table, comma-separated)
              <input placeholder="shop.orders, shop.customers" value={tables} onInput={(e) => setTables(e.currentTarget.value)} required />
            </label>
            <button type="submit" disabled={busy}>
              Snapshot tables
            </button>
          </form>
        </section>
      ) : null}

      {task && admin ? <Preview task={name} config={() => task.config} /> : null}
    </main>
  );
}

/** The snapshot in progress (table, rows so far), a request waiting for the owner, or none. */
function snapshotText(view: CoordinatorView | null | undefined): string {
  const progress = view?.status?.snapshot;
  if (progress) {
    return `${progress.table}: ${count(progress.rows)} rows, ${progress.tables_done} of ${progress.tables_total} tables done`;
  }
  const request = view?.snapshot_request;
  if (request && request.id > (view?.snapshot_taken ?? 0)) {
    return `requested: ${request.tables.join(", ")}`;
  }
  return "none";
}
