// A small line chart of one series over time, drawn as SVG: the UI needs two of them per task
// page, which does not justify a chart library.
import { duration } from "../format";

export interface ChartPoint {
  at_ms: number;
  value: number | null;
}

const W = 600;
const H = 160;
const PAD_LEFT = 56;
const PAD_BOTTOM = 22;
const PAD_TOP = 10;

export function Chart(props: { title: string; points: ChartPoint[]; unit: (v: number) => string }) {
  const points = props.points.filter((p) => p.value != null) as { at_ms: number; value: number }[];
  const last = points.at(-1);
  const first = points[0];
  const max = Math.max(1, ...points.map((p) => p.value)) * 1.1;
  const span = last && first ? Math.max(1, last.at_ms - first.at_ms) : 1;
  const x = (at: number) => PAD_LEFT + ((at - (first?.at_ms ?? 0)) / span) * (W - PAD_LEFT - 8);
  const y = (v: number) => PAD_TOP + (1 - v / max) * (H - PAD_TOP - PAD_BOTTOM);
  const line = points.map((p) => `${x(p.at_ms).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
  const summary = last ? `now ${props.unit(last.value)}, peak ${props.unit(Math.max(...points.map((p) => p.value)))}` : "no data yet";
  return (
    <figure class="chart">
      <figcaption>
        <span>{props.title}</span>
        <span class="chart-now">{last ? props.unit(last.value) : "–"}</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${props.title}: ${summary}`} preserveAspectRatio="none">
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line class="chart-grid" x1={PAD_LEFT} x2={W} y1={y(max * f)} y2={y(max * f)} />
            <text class="chart-label" x={PAD_LEFT - 6} y={y(max * f) + 4} text-anchor="end">
              {props.unit(max * f)}
            </text>
          </g>
        ))}
        {points.length > 1 ? <polyline class="chart-line" points={line} /> : null}
        <text class="chart-label" x={PAD_LEFT} y={H - 4}>
          {points.length > 1 ? `last ${duration(span)}` : "waiting for data"}
        </text>
      </svg>
    </figure>
  );
}
