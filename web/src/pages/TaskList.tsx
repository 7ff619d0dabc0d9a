// Every task with its live state, owner, lag and throughput, from the stream; a search box and
// a state filter narrow the list.
import { useState } from "preact/hooks";
import { Link } from "../components/Link";
import { StateBadge } from "../components/StateBadge";
import { count, duration, rate } from "../format";
import { isAdmin } from "../session";
import { useSignal } from "../signal";
import { snapshot } from "../stream";
import { ownerOf, shownState } from "../types";

const STATES = ["running", "starting", "paused", "unassigned", "failed"];

export function TaskList() {
  const snap = useSignal(snapshot);
  const [query, setQuery] = useState("");
  const [state, setState] = useState("");
  const tasks = (snap?.tasks ?? [])
    .filter((t) => t.name.toLowerCase().includes(query.trim().toLowerCase()) || (ownerOf(t) ?? "").includes(query.trim()))
    .filter((t) => !state || shownState(t) === state)
    .sort((a, b) => a.name.localeCompare(b.name));
  return (
    <main>
      <div class="page-head">
        <h1>Tasks</h1>
        {isAdmin() ? (
          <Link href="/tasks/new" class="button primary">
            New task
          </Link>
        ) : null}
      </div>
      <div class="toolbar">
        <input type="search" aria-label="Search tasks" placeholder="Search by task or node" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        <select aria-label="Filter by state" value={state} onChange={(e) => setState(e.currentTarget.value)}>
          <option value="">All states</option>
          {STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      {!snap ? (
        <p class="muted">Connecting to the live stream…</p>
      ) : tasks.length === 0 ? (
        <p class="muted">{snap.tasks.length ? "No task matches." : "No task yet."}</p>
      ) : (
        <div class="table-wrap">
          <table class="tasks" aria-label="Tasks">
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">State</th>
                <th scope="col">Owner</th>
                <th scope="col" class="num">Lag</th>
                <th scope="col" class="num">Events/s</th>
                <th scope="col" class="num">Events</th>
                <th scope="col" class="num">Rev</th>
              </tr>
            </thead>
            <tbody>
              {tasks.map((t) => {
                const status = t.coordinator?.status;
                return (
                  <tr key={t.name} data-task={t.name}>
                    <td>
                      <Link href={`/tasks/${encodeURIComponent(t.name)}`}>{t.name}</Link>
                      {status?.last_error ? <div class="row-error">{status.last_error}</div> : null}
                    </td>
                    <td>
                      <StateBadge state={shownState(t)} />
                    </td>
                    <td class="owner">{ownerOf(t) ?? "–"}</td>
                    <td class="num">{duration(status?.lag_ms)}</td>
                    <td class="num">{rate(status?.events_per_sec)}</td>
                    <td class="num">{count(status?.events_total)}</td>
                    <td class="num">{t.published_revision < t.revision ? `${t.revision}*` : t.revision}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
