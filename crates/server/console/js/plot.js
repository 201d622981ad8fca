// Line charts as inline SVG: one line per series (a pod), time on x, a value on y. No library:
// axes with a few round ticks, the lines, and a text summary for screen readers.

import { bytes, h } from './ui.js';

export const COLORS = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#dc2626', '#4b5563'];

export const formatters = {
  percent: (v) => `${v >= 10 ? v.toFixed(0) : v.toFixed(1)}%`,
  bytes: (v) => bytes(v),
  rate: (v) => `${bytes(v)}/s`,
};

/**
 * A round step for at most `count` intervals over `span` (and more than `count / 2.5`): 1, 2
 * or 5 times a power of 10; for bytes from 1 KiB on, a power of two times a power of 1024
 * (256 MiB, 1 GiB, 2 GiB), so that the labels are round in the units they are shown in.
 */
export function niceStep(span, count, binary = false) {
  if (!(span > 0)) return 1;
  const raw = span / count;
  if (binary && raw >= 1024) {
    const base = 1024 ** Math.floor(Math.log(raw) / Math.log(1024));
    let m = 1;
    while (base * m < raw) m *= 2;
    return base * m;
  }
  const base = 10 ** Math.floor(Math.log10(raw));
  // (With a little slack: 10 ** -4 * 2 falls just short of 0.0002.)
  for (const m of [1, 2, 5]) if (base * m >= raw * (1 - 1e-9)) return base * m;
  return base * 10;
}

/**
 * The y axis's ticks for values up to `vmax`: 0, one step apart, up to the first at or above
 * `vmax` — 4 to 6 of them whatever the range (byte counts: whole bytes, so fewer below 5 B).
 */
export function yTicks(vmax, binary = false) {
  const top = vmax > 0 ? vmax : 1;
  const step = binary ? Math.max(1, niceStep(top, 5, true)) : niceStep(top, 5, false);
  // Tolerate the rounding of a division that should be whole (0.6 / 0.2).
  const n = Math.max(1, Math.ceil(top / step - 1e-9));
  return Array.from({ length: n + 1 }, (_, i) => i * step);
}

const clock = (ms, span) => {
  const d = new Date(ms);
  const opts = { hour: '2-digit', minute: '2-digit', hour12: false };
  if (span < 15 * 60_000) opts.second = '2-digit';
  return d.toLocaleTimeString(undefined, opts);
};

/**
 * An SVG chart of `series` ([{name, points: [[timeMs, value], …]}]), values shown with
 * `format`. Width follows its container; the drawing is `width`×`height` user units.
 */
export function lineChart({ label, series, format = String, binary = false, width = 520, height = 180 }) {
  const pad = { left: 64, right: 12, top: 10, bottom: 26 };
  const all = series.flatMap((s) => s.points);
  const svg = h('svg:svg', {
    viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img',
    'data-points': String(all.length), 'data-series': String(series.length),
  });
  const last = series.map((s) => `${s.name} ${s.points.length ? format(s.points.at(-1)[1]) : 'no data'}`);
  svg.append(h('svg:title', {}, `${label}: ${all.length ? `latest ${last.join(', ')}` : 'no samples'}`));
  const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
  if (!all.length) {
    svg.append(h('svg:text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'chart-empty' },
      'No samples in this window'));
    return svg;
  }
  let t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]));
  if (t1 === t0) { t0 -= 30_000; t1 += 30_000; }
  const vmax = Math.max(...all.map((p) => p[1]), 0);
  svg.dataset.max = String(vmax);
  const yticks = yTicks(vmax, binary);
  const ytop = yticks.at(-1);
  const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v) => pad.top + plotH - (v / ytop) * plotH;

  const grid = h('svg:g', { class: 'grid' });
  for (const v of yticks) {
    grid.append(
      h('svg:line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }),
      h('svg:text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'y' }, format(v)));
  }
  const tstep = niceStep(t1 - t0, 4, false);
  const steps = [1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 216e5, 432e5, 864e5];
  const ts = steps.find((s) => s >= tstep) || tstep;
  for (let t = Math.ceil(t0 / ts) * ts; t <= t1; t += ts) {
    grid.append(
      h('svg:line', { x1: x(t), x2: x(t), y1: pad.top, y2: pad.top + plotH, class: 'v' }),
      h('svg:text', {
        x: x(t), y: height - 8,
        'text-anchor': x(t) > width - pad.right - 24 ? 'end' : x(t) < pad.left + 24 ? 'start' : 'middle',
      }, clock(t, t1 - t0)));
  }
  svg.append(grid);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    if (s.points.length > 1) {
      svg.append(h('svg:polyline', { points: pts, fill: 'none', stroke: color, 'stroke-width': 2, class: 'line' }));
    }
    for (const [t, v] of s.points.length <= 60 ? s.points : [s.points.at(-1)]) {
      svg.append(h('svg:circle', { cx: x(t), cy: y(v), r: 2.5, fill: color },
        h('svg:title', {}, `${s.name} ${clock(t, 0)}: ${format(v)}`)));
    }
  });
  return svg;
}
