// Metric plots: GetJobMetrics for each of the eight metric types, one line per pod, over the
// job's life (or a recent window), refreshed while the job runs.

import { api } from '../../api.js';
import { errorText, every, fill, h, isTerminal } from '../../ui.js';
import { COLORS, formatters, lineChart } from '../../plot.js';

const METRICS = [
  ['CpuCoreUsage', 'CPU', 'percent of one core', formatters.percent, false],
  ['MemoryUsage', 'Memory', 'resident set', formatters.bytes, true],
  ['GpuCoreUsage', 'GPU', 'SM utilisation', formatters.percent, false],
  ['GpuMemoryUsage', 'GPU memory', 'used', formatters.bytes, true],
  ['NetworkInputRate', 'Network in', 'host-wide', formatters.rate, true],
  ['NetworkOutputRate', 'Network out', 'host-wide', formatters.rate, true],
  ['DiskReadRate', 'Disk read', 'reached storage', formatters.rate, true],
  ['DiskWriteRate', 'Disk write', 'reached storage', formatters.rate, true],
];
const WINDOWS = [['job', 'The whole job'], ['900', 'Last 15 minutes'], ['3600', 'Last hour'],
  ['21600', 'Last 6 hours'], ['86400', 'Last 24 hours']];

const wire = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function mount(panel, ctx) {
  let windowChoice = 'job';
  const note = h('p', { class: 'muted', role: 'status' });
  const grid = h('div', { class: 'charts' });
  const cards = Object.fromEntries(METRICS.map(([type, name, what]) => {
    const body = h('div', { class: 'chart-body' });
    const legend = h('div', { class: 'legend' });
    const card = h('figure', { class: 'card chart-card', 'data-metric': type },
      h('figcaption', {}, h('strong', {}, name), h('span', { class: 'muted' }, ` ${what}`)), body, legend);
    grid.append(card);
    return [type, { body, legend }];
  }));
  panel.append(
    h('div', { class: 'toolbar' },
      h('label', {}, 'Window ', h('select', {
        id: 'metrics-window',
        onchange: (e) => { windowChoice = e.target.value; load(); },
      }, WINDOWS.map(([v, t]) => h('option', { value: v }, t)))),
      note),
    grid);

  function range() {
    const job = ctx.job;
    const now = Date.now();
    if (windowChoice !== 'job') return [now - Number(windowChoice) * 1000, now];
    const start = Date.parse(job.GmtRunningTime || job.GmtCreateTime) || now - 3600_000;
    const end = isTerminal(job.Status) && job.GmtFinishTime ? Date.parse(job.GmtFinishTime) + 5000 : now;
    return [start - 5000, Math.max(end, start + 60_000)];
  }

  async function load() {
    const [start, end] = range();
    // About 150 points across the window, never finer than a second.
    const step = Math.max(1, Math.ceil((end - start) / 1000 / 150));
    const query = { StartTime: wire(start), EndTime: wire(end), TimeStep: `${step}s` };
    const replies = await Promise.allSettled(METRICS.map(([type]) =>
      api.metrics(ctx.id, { ...query, MetricType: type })));
    replies.forEach((r, i) => {
      const [type, name, , format, binary] = METRICS[i];
      const { body, legend } = cards[type];
      if (r.status === 'rejected') {
        fill(body, h('p', { class: 'error' }, errorText(r.reason)));
        return;
      }
      const series = (r.value.PodMetrics || []).map((p) => ({
        name: (p.PodId || '').replace(`${ctx.id}-`, ''),
        points: (p.Metrics || []).map((m) => [Number(m.Time), Number(m.Value)]),
      }));
      fill(body, lineChart({ label: name, series, format, binary }));
      fill(legend, series.map((s, j) => h('span', {},
        h('i', { class: 'swatch', style: `background:${COLORS[j % COLORS.length]}` }), s.name)));
    });
    note.textContent = `Averaged over ${step}s steps. ${isTerminal(ctx.job.Status) ? '' : 'Refreshing every 5 s.'}`;
  }

  const stop = every(5000, async () => {
    await load();
    if (isTerminal(ctx.job.Status)) stop();
  });
  return stop;
}
