// Live logs: the stream extension (NDJSON) for all pods or one, followed while the job runs;
// a search that filters the lines shown, and a download of what was read.

import { streamLogs } from '../../api.js';
import { errorText, fill, h, isTerminal } from '../../ui.js';

/** Lines kept in the page; older ones are dropped (the download says so). */
const MAX_LINES = 50_000;

export function mount(panel, ctx) {
  let records = [];
  let dropped = 0;
  let controller = null;
  let podId = '';
  let search = '';

  const podSelect = h('select', { id: 'log-pod', onchange: (e) => { podId = e.target.value; start(); } });
  const searchInput = h('input', {
    type: 'search', id: 'log-search', placeholder: 'Search the lines…',
    oninput: (e) => { search = e.target.value; redraw(); },
  });
  const followBox = h('input', { type: 'checkbox', id: 'log-follow', checked: true });
  const status = h('span', { class: 'muted', id: 'log-status', role: 'status' });
  const count = h('span', { class: 'muted' });
  const out = h('pre', { class: 'log', id: 'log-output', role: 'log', tabindex: '0', 'aria-label': 'Log lines' });

  panel.append(
    h('div', { class: 'toolbar' },
      h('label', {}, 'Pod ', podSelect),
      h('label', { class: 'grow' }, 'Search ', searchInput),
      h('label', {}, followBox, ' Scroll to new lines'),
      h('button', { type: 'button', onclick: download }, 'Download'),
      status, count),
    out);

  function pods(job) {
    const ids = (job.Pods || []).map((p) => p.PodId);
    const have = [...podSelect.options].map((o) => o.value);
    const want = ['', ...ids];
    if (have.join() === want.join()) return;
    fill(podSelect, h('option', { value: '' }, 'All pods'),
      ids.map((id) => h('option', { value: id, selected: id === podId }, id)));
  }

  const label = (r) => (podId ? '' : `[${r.PodId.replace(`${ctx.id}-`, '')}] `);
  const matches = (r) => !search || r.Line.toLowerCase().includes(search.toLowerCase());
  const lineNode = (r) => h('span', { class: r.Stream === 'stderr' ? 'err' : '' }, `${label(r)}${r.Line}\n`);

  function redraw() {
    const shown = records.filter(matches);
    fill(out, shown.map(lineNode));
    count.textContent = search ? `${shown.length} of ${records.length} lines match` : `${records.length} lines`;
    scroll();
  }

  function scroll() {
    if (followBox.checked) out.scrollTop = out.scrollHeight;
  }

  function add(batch) {
    records.push(...batch);
    if (records.length > MAX_LINES) {
      dropped += records.length - MAX_LINES;
      records = records.slice(-MAX_LINES);
      redraw();
      return;
    }
    const frag = document.createDocumentFragment();
    for (const r of batch) if (matches(r)) frag.append(lineNode(r));
    out.append(frag);
    count.textContent = search
      ? `${records.filter(matches).length} of ${records.length} lines match` : `${records.length} lines`;
    scroll();
  }

  async function start() {
    if (controller) controller.abort();
    const mine = new AbortController();
    controller = mine;
    records = [];
    dropped = 0;
    redraw();
    const live = !isTerminal(ctx.job.Status);
    status.textContent = live ? 'Following…' : 'Reading…';
    out.setAttribute('aria-busy', 'true');
    try {
      await streamLogs(ctx.id, { podId: podId || undefined, follow: true, signal: mine.signal }, add);
      if (controller === mine) status.textContent = 'End of the logs: the job has ended.';
    } catch (e) {
      if (mine.signal.aborted) return;
      status.textContent = `Stopped: ${errorText(e)}`;
    } finally {
      out.setAttribute('aria-busy', 'false');
    }
  }

  function download() {
    const text = (dropped ? `(${dropped} earlier lines are not in this file)\n` : '')
      + records.filter(matches).map((r) => `${r.Time} ${label(r)}${r.Line}\n`).join('');
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    const a = h('a', { href: url, download: `${ctx.id}${podId ? `-${podId}` : ''}.log` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  pods(ctx.job);
  ctx.listeners.add(pods);
  start();
  return () => {
    ctx.listeners.delete(pods);
    if (controller) controller.abort();
  };
}

/** Called when another part of the page asks for this tab, e.g. a pod's "Logs" button. */
export function focus(options = {}) {
  const select = document.getElementById('log-pod');
  if (!select || options.podId === undefined || select.value === options.podId) return;
  select.value = options.podId;
  select.dispatchEvent(new Event('change'));
}
