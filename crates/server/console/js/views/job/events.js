// Events: the job's (GetJobEvents) or one pod's (GetPodEvents), newest last, refreshed while
// the job runs.

import { api } from '../../api.js';
import { errorBox, every, fill, h, isTerminal } from '../../ui.js';

export function mount(panel, ctx) {
  let source = '';
  const select = h('select', { id: 'events-source', onchange: (e) => { source = e.target.value; load(); } });
  const list = h('ol', { class: 'events', id: 'events-list' });
  panel.append(h('div', { class: 'toolbar' }, h('label', {}, 'Events of ', select)), list);

  function sources(job) {
    const want = ['', ...(job.Pods || []).map((p) => p.PodId)];
    if ([...select.options].map((o) => o.value).join() === want.join()) return;
    fill(select, want.map((v) => h('option', { value: v, selected: v === source }, v ? `pod ${v}` : 'the job')));
  }

  let last = '';
  async function load() {
    try {
      const query = { StartTime: '1970-01-01T00:00:00Z', MaxEventsNum: 500 };
      const reply = source ? await api.podEvents(ctx.id, source, query) : await api.jobEvents(ctx.id, query);
      const events = reply.Events || [];
      const key = source + JSON.stringify(events);
      if (key === last) return;
      last = key;
      fill(list, events.length ? events.map((e) => h('li', {}, e)) : h('li', { class: 'empty' }, 'No events.'));
    } catch (e) {
      fill(list, h('li', {}, errorBox(e)));
    }
  }

  sources(ctx.job);
  ctx.listeners.add(sources);
  const stop = every(3000, async () => {
    await load();
    if (isTerminal(ctx.job.Status)) stop();
  });
  return () => { stop(); ctx.listeners.delete(sources); };
}
