import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { v1MinuteCounts, v1OutcomeCounts } from "../api/client";
import { count } from "../format";

export const series: Array<[keyof v1OutcomeCounts, string]> = [
  ["accepted", "Accepted"],
  ["duplicate", "Duplicate"],
  ["filtered", "Filtered"],
  ["handshake", "Handshake"],
  ["rejected", "Rejected"],
];

const minute = 60_000;

function hhmm(t: number): string {
  const d = new Date(t);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/**
 * Webhooks per minute by outcome over a window, as stacked bars: one per
 * minute, drawn at least two pixels wide so a lone minute shows.
 */
export function MinuteChart({ start, end, minutes }: { start: string; end: string; minutes: v1MinuteCounts[] }) {
  const t0 = Date.parse(start);
  const n = Math.max(1, Math.round((Date.parse(end) - t0) / minute));
  const box = useRef<HTMLDivElement>(null);
  const [px, setPx] = useState(960);
  const [hover, setHover] = useState<number | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => setPx(el.clientWidth || 960));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const byIndex = useMemo(() => {
    const m = new Map<number, v1OutcomeCounts>();
    for (const x of minutes) m.set(Math.round((Date.parse(x.startTime ?? "") - t0) / minute), x.counts ?? {});
    return m;
  }, [minutes, t0]);
  const totals = [...byIndex.values()].map((c) => series.reduce((s, [k]) => s + count(c[k] as string), 0));
  const max = Math.max(1, ...totals);
  const height = 100;
  const w = Math.max(1, (n / Math.max(px, 1)) * 2);
  const paths: Record<string, string> = {};
  for (const [i, c] of byIndex) {
    let y = height;
    for (const [k] of series) {
      const v = count(c[k] as string);
      if (!v) continue;
      const h = (v / max) * height;
      y -= h;
      paths[k] = (paths[k] ?? "") + `M${i} ${y.toFixed(3)}h${w.toFixed(3)}v${h.toFixed(3)}h${(-w).toFixed(3)}z`;
    }
  }
  const busiest = totals.length ? [...byIndex.entries()].reduce((a, b) => (sum(b[1]) > sum(a[1]) ? b : a)) : undefined;
  const grand = series.map(([k, label]) => [label, minutes.reduce((s, m) => s + count(m.counts?.[k] as string), 0)] as const);
  const summary =
    minutes.length === 0
      ? "No webhooks in the last 24 hours."
      : `Webhooks per minute over the last 24 hours: ${grand
          .filter(([, v]) => v)
          .map(([l, v]) => `${v.toLocaleString()} ${l.toLowerCase()}`)
          .join(", ")}. Busiest minute ${busiest ? hhmm(t0 + busiest[0] * minute) : ""} with ${busiest ? sum(busiest[1]) : 0}.`;
  const ticks = Array.from({ length: 9 }, (_, i) => hhmm(t0 + (i * n * minute) / 8));
  const hc = hover !== null ? byIndex.get(hover) : undefined;
  return (
    <figure class="chart">
      <div class="chart-legend" aria-hidden="true">
        {series.map(([k, label]) => (
          <span key={k} class="legend-item">
            <span class={`swatch swatch-${k}`} />
            {label}
          </span>
        ))}
      </div>
      <div class="chart-area" ref={box}>
        <span class="chart-max" aria-hidden="true">
          {max.toLocaleString()}/min
        </span>
        <svg
          viewBox={`0 0 ${n} ${height}`}
          preserveAspectRatio="none"
          role="img"
          aria-label={summary}
          onMouseMove={(e) => {
            const r = (e.currentTarget as SVGSVGElement).getBoundingClientRect();
            setHover(Math.floor(((e.clientX - r.left) / r.width) * n));
          }}
          onMouseLeave={() => setHover(null)}
        >
          <line x1="0" x2={n} y1={height / 2} y2={height / 2} class="grid" vector-effect="non-scaling-stroke" />
          {series.map(([k]) => paths[k] && <path key={k} d={paths[k]} class={`bar-${k}`} />)}
          {hover !== null && <rect x={hover} y="0" width={w} height={height} class="hover" />}
        </svg>
        {minutes.length === 0 && <p class="chart-empty">No webhooks in the last 24 hours.</p>}
      </div>
      <div class="chart-axis" aria-hidden="true">
        {ticks.map((t, i) => (
          <span key={i}>{t}</span>
        ))}
      </div>
      <figcaption class="small muted" aria-live="polite">
        {hover !== null
          ? `${hhmm(t0 + hover * minute)}: ${
              hc
                ? series
                    .filter(([k]) => count(hc[k] as string))
                    .map(([k, l]) => `${count(hc[k] as string)} ${l.toLowerCase()}`)
                    .join(", ")
                : "none"
            }`
          : "Webhooks per minute, by outcome, over the last 24 hours (your time zone). Point at a bar for its minute."}
      </figcaption>
    </figure>
  );
}

function sum(c: v1OutcomeCounts): number {
  return series.reduce((s, [k]) => s + count(c[k] as string), 0);
}
