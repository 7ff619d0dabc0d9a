// How numbers and times read on screen.

export function duration(ms: number | null | undefined): string {
  if (ms == null) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function rate(perSec: number | null | undefined): string {
  if (perSec == null) return "–";
  return perSec >= 100 ? `${Math.round(perSec)}/s` : `${perSec.toFixed(1)}/s`;
}

export function count(n: number | null | undefined): string {
  return n == null ? "–" : n.toLocaleString("en");
}

export function time(ms: number | null | undefined): string {
  if (!ms) return "–";
  return new Date(ms).toLocaleString("en-GB", { hour12: false });
}

export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (!ms) return "–";
  return `${duration(Math.max(0, now - ms))} ago`;
}

/// A checkpoint position as FILE:POS, or GTID, whichever the record holds.
export function position(p: any): string {
  if (!p) return "–";
  if (typeof p === "string") return p;
  if (p.file) return `${p.file}:${p.pos}`;
  return JSON.stringify(p);
}
