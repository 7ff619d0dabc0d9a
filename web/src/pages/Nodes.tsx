// The live nodes: what each runs, its health (from its tasks' reports), version, labels and
// when it last reported.
import { StateBadge } from "../components/StateBadge";
import { Link } from "../components/Link";
import { ago, time } from "../format";
import { useSignal } from "../signal";
import { snapshot } from "../stream";
import { ownerOf, shownState, type NodeInfo, type TaskSnapshot } from "../types";

/// The newest sign of life the snapshot has from a node: its own heartbeat field if the API
/// gives one, else its tasks' latest status reports.
function lastHeartbeat(node: NodeInfo, tasks: TaskSnapshot[]): number | undefined {
  const own = (node.last_heartbeat_ms ?? node.heartbeat_at_ms) as number | undefined;
  const reports = tasks.map((t) => t.coordinator?.status?.at_ms ?? 0);
  const latest = Math.max(own ?? 0, ...reports);
  return latest || undefined;
}

function health(tasks: TaskSnapshot[]): string {
  if (tasks.some((t) => shownState(t) === "failed")) return "degraded";
  return "healthy";
}

export function Nodes() {
  const snap = useSignal(snapshot);
  if (!snap) return <main><h1>Nodes</h1><p class="muted">Connecting to the live stream…</p></main>;
  const nodes = [...snap.nodes].sort((a, b) => a.id.localeCompare(b.id));
  return (
    <main>
      <h1>Nodes</h1>
      {nodes.length === 0 ? <p class="muted">No node is registered: start one with <code>sluice node --zk HOST:PORT</code>.</p> : null}
      <div class="node-grid">
        {nodes.map((node) => {
          const tasks = snap.tasks.filter((t) => ownerOf(t) === node.id);
          return (
            <section class="card node" key={node.id} aria-label={`Node ${node.id}`} data-node={node.id}>
              <div class="section-head">
                <h2>{node.id}</h2>
                <StateBadge state={health(tasks)} />
              </div>
              <dl class="facts">
                <dt>Address</dt>
                <dd>{node.addr ?? "–"}</dd>
                <dt>Version</dt>
                <dd>{node.version ?? "–"}</dd>
                <dt>Labels</dt>
                <dd>{node.labels?.length ? node.labels.map((l) => <span class="tag" key={l}>{l}</span>) : <span class="muted">none</span>}</dd>
                <dt>Started</dt>
                <dd>{time(node.started_at_ms)}</dd>
                <dt>Last heartbeat</dt>
                <dd>{ago(lastHeartbeat(node, tasks), snap.at_ms)}</dd>
              </dl>
              <h3>Tasks ({tasks.length})</h3>
              {tasks.length ? (
                <ul class="plain">
                  {tasks.map((t) => (
                    <li key={t.name}>
                      <Link href={`/tasks/${encodeURIComponent(t.name)}`}>{t.name}</Link> <StateBadge state={shownState(t)} />
                    </li>
                  ))}
                </ul>
              ) : (
                <p class="muted">none</p>
              )}
            </section>
          );
        })}
      </div>
    </main>
  );
}
