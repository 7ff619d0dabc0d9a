// A task's or sink's state as a coloured badge; the word itself is always shown, so colour
// is never the only cue.
const TONE: Record<string, string> = {
  running: "ok",
  healthy: "ok",
  ok: "ok",
  starting: "info",
  pausing: "info",
  paused: "muted",
  stopped: "muted",
  unassigned: "warn",
  retrying: "warn",
  degraded: "warn",
  failed: "bad",
  error: "bad",
};

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge badge-${TONE[state] ?? "muted"}`}>{state}</span>;
}
