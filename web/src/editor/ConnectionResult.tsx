// The outcome of "test connection" for the source or one sink, shown beside it.

export interface CheckResult {
  ok: boolean;
  detail?: string | null;
  error?: string | null;
}

export function ConnectionResult(props: { label: string; result?: CheckResult }) {
  const r = props.result;
  if (!r) return null;
  return (
    <p class={`check-result ${r.ok ? "check-ok" : "check-failed"}`} role="status" aria-label={`${props.label} connection test`}>
      {r.ok ? "✓ Connected" : "✗ Failed"}
      {r.ok ? (r.detail ? `: ${r.detail}` : "") : `: ${r.error ?? "no answer"}`}
    </p>
  );
}
