// Capacity: the pool and each quota with used and free CPU, memory and GPU, and the queue in
// order with why each job waits (the GetCapacity extension; jobs the caller may not read are
// only counted).

import { api } from '../api.js';
import { badge, cores, errorBox, every, fill, h, mib, table, time } from '../ui.js';

export const title = () => 'Capacity';

function meter(label, used, total, format) {
  const pct = total > 0 ? Math.min(100, (used / total) * 100) : 0;
  return h('div', { class: 'meter-row' },
    h('div', { class: 'meter-label' }, h('strong', {}, label),
      h('span', {}, `${format(used)} used of ${format(total)} · ${format(Math.max(0, total - used))} free`)),
    h('div', {
      class: `bar${pct >= 90 ? ' full' : ''}`, role: 'meter', 'aria-label': `${label} used`,
      'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': used, 'aria-valuetext': `${pct.toFixed(0)}%`,
    }, h('span', { style: `width:${pct}%` })));
}

function pool(title, p, extra) {
  return h('div', { class: 'card pool' },
    h('h2', {}, title), extra || '',
    meter('CPU', p.Used.CPU, p.Total.CPU, (v) => `${cores(v)} cores`),
    meter('Memory', p.Used.MemoryMiB, p.Total.MemoryMiB, mib),
    meter('GPU', p.Used.GPU, p.Total.GPU, (v) => String(v)));
}

const request = (r) => `${cores(r.CPU)} CPU · ${mib(r.MemoryMiB)}${r.GPU ? ` · ${r.GPU} GPU` : ''}`;
const jobLink = (j) => [h('a', { href: `#/jobs/${encodeURIComponent(j.JobId)}` }, j.DisplayName || j.JobId),
  h('div', { class: 'id' }, j.JobId)];

export function render(main) {
  const body = h('div', { 'aria-live': 'polite' });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Capacity')), body);
  let last = '';
  return every(3000, async () => {
    let c;
    try {
      c = await api.capacity();
    } catch (e) {
      fill(body, errorBox(e));
      return;
    }
    const key = JSON.stringify({ ...c, RequestId: '' });
    if (key === last) return;
    last = key;
    const hidden = (n, what) => (n ? h('p', { class: 'muted' }, `…and ${n} ${what} you may not see.`) : '');
    fill(body,
      h('div', { class: 'pools' },
        pool(`Pool ${c.Pool.Name}`, c.Pool, h('p', { class: 'muted' }, 'CPU counts the overcommitted cores the scheduler shares out.')),
        (c.Quotas || []).map((q) => pool(`Quota ${q.ResourceId}`, q,
          h('p', { class: 'muted' }, `${q.QueueLength} job${q.QueueLength === 1 ? '' : 's'} waiting`)))),
      h('div', { class: 'card' },
        h('h2', {}, `Queue (${c.QueueLength})`),
        c.Queue.length
          ? table(['#', 'Job', 'Priority', 'Quota', 'Requests', 'Why it waits', 'Since'], c.Queue.map((j) =>
            h('tr', { 'data-job-id': j.JobId },
              h('td', {}, j.Position ?? '—'), h('td', {}, jobLink(j)), h('td', {}, j.Priority),
              h('td', {}, j.ResourceId || 'public'), h('td', {}, request(j.Request)),
              h('td', {}, j.ReasonMessage || ''), h('td', {}, time(j.GmtCreateTime)))), { id: 'queue' })
          : h('p', { class: 'empty' }, c.QueueLength ? '' : 'Nothing is waiting.'),
        hidden(c.HiddenQueued, 'queued jobs')),
      h('div', { class: 'card' },
        h('h2', {}, `Holding resources (${c.Running.length + c.HiddenRunning})`),
        c.Running.length
          ? table(['Job', 'Status', 'Quota', 'Requests', 'Started'], c.Running.map((j) =>
            h('tr', { 'data-job-id': j.JobId },
              h('td', {}, jobLink(j)), h('td', {}, badge(j.Status)), h('td', {}, j.ResourceId || 'public'),
              h('td', {}, request(j.Request)), h('td', {}, time(j.GmtRunningTime))))) : '',
        hidden(c.HiddenRunning, 'running jobs')));
  });
}
