// Line charts as inline SVG: one line per series (a pod), time on x, a value on y. No library:
// axes with a few round ticks, the lines, and a text summary for screen readers.

import { bytes, h } from './ui.js';

export const COLORS = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#dc2626', '#4b5563'];

export const formatters = {
  percent: (v) => `${v >= 10 ? v.toFixed(0) : v.toFixed(1)}%`,
  bytes: (v) => bytes(v),
  rate: (v) => `${bytes(v)}/s`,
};

/** A round step near `span / count` (1, 2 or 5 times a power of 10; powers of 1024 for bytes). */
function niceStep(span, count, binary) {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const base = binary && raw >= 1024 ? 1024 ** Math.floor(Math.log(raw) / Math.log(1024)) : 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (base * m >= raw) return base * m;
  return base * 10;
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
  // Byte counts come in whole bytes: no fractional ticks.
  const ystep = binary ? Math.max(1, niceStep(vmax || 1, 4, true)) : niceStep(vmax || 1, 4, false);
  const ytop = Math.max(ystep, Math.ceil((vmax || 1) / ystep) * ystep);
  const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v) => pad.top + plotH - (v / ytop) * plotH;

  const grid = h('svg:g', { class: 'grid' });
  for (let v = 0; v <= ytop + ystep / 2; v += ystep) {
    grid.append(
      h('svg:line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }),
      h('svg:text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, format(v)));
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
