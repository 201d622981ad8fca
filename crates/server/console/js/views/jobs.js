// The job list: ListJobs with its filters, sorting and paging (kept in the address, so a
// filtered list can be bookmarked), status badges, why queued jobs wait, bulk stop and delete.

import { api } from '../api.js';
import {
  badge, duration, errorBox, every, fill, h, isTerminal, table, time, toast,
} from '../ui.js';

export const title = () => 'Jobs';

const STATUSES = ['Creating', 'Queuing', 'EnvPreparing', 'SanityChecking', 'Running', 'Restarting',
  'Stopping', 'SucceededReserving', 'FailedReserving', 'Succeeded', 'Failed', 'Stopped'];
const TYPES = ['PyTorchJob', 'TFJob', 'MPIJob', 'XGBoostJob', 'RayJob', 'OneFlowJob',
  'ElasticBatchJob', 'DataJuicerJob', 'SlurmJob'];
const SORTS = [['GmtCreateTime', 'Created'], ['GmtRunningTime', 'Started'],
  ['GmtFinishTime', 'Finished'], ['DisplayName', 'Name'], ['Status', 'Status'],
  ['Priority', 'Priority'], ['JobType', 'Type']];

/** datetime-local value ↔ the API's UTC time. */
const toWire = (local) => (local ? new Date(local).toISOString().replace(/\.\d{3}Z$/, 'Z') : '');
const toLocal = (wire) => {
  if (!wire) return '';
  const d = new Date(wire);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
};

export function render(main, { query }) {
  const state = {
    Status: query.Status || '', JobType: query.JobType || '', DisplayName: query.DisplayName || '',
    WorkspaceId: query.WorkspaceId || '', StartTime: query.StartTime || '',
    EndTime: query.EndTime || '', TimeRangeField: query.TimeRangeField || '',
    SortBy: query.SortBy || 'GmtCreateTime', Order: query.Order || 'desc',
    ShowOwn: query.ShowOwn || 'true',
    PageSize: Number(query.PageSize) || 20, PageNumber: Number(query.PageNumber) || 1,
  };
  const selected = new Set();
  const list = h('div', { id: 'job-list', 'aria-live': 'polite', 'aria-busy': 'true' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const bulk = h('div', { class: 'toolbar' });

  const select = (name, label, options, value) => h('label', {},
    label,
    h('select', {
      name, onchange: (e) => { state[name] = e.target.value; state.PageNumber = 1; changed(); },
    }, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text))));

  const workspaceSelect = select('WorkspaceId', 'Workspace', [['', 'All workspaces']], state.WorkspaceId);
  api.workspaces({ PageSize: 100 }).then((r) => {
    const sel = workspaceSelect.querySelector('select');
    for (const w of r.Workspaces || []) {
      sel.append(h('option', { value: w.WorkspaceId, selected: w.WorkspaceId === state.WorkspaceId },
        w.WorkspaceName));
    }
  }).catch(() => { /* workspaces are optional here */ });

  let searchTimer;
  const filters = h('form', {
    class: 'filters', role: 'search', 'aria-label': 'Filter jobs',
    onsubmit: (e) => { e.preventDefault(); changed(); },
  },
  h('label', {}, 'Name',
    h('input', {
      type: 'search', name: 'DisplayName', value: state.DisplayName, placeholder: 'contains…',
      oninput: (e) => {
        state.DisplayName = e.target.value;
        state.PageNumber = 1;
        clearTimeout(searchTimer);
        searchTimer = setTimeout(changed, 300);
      },
    })),
  select('Status', 'Status', [['', 'Any status'], ...STATUSES.map((s) => [s, s])], state.Status),
  select('JobType', 'Type', [['', 'Any type'], ...TYPES.map((t) => [t, t])], state.JobType),
  workspaceSelect,
  select('ShowOwn', 'Owner', [['true', 'My jobs'], ['false', 'Everyone’s I can see']], state.ShowOwn),
  select('TimeRangeField', 'Time of', [['', 'creation'], ['GmtRunningTime', 'start'],
    ['GmtFinishTime', 'end']], state.TimeRangeField),
  h('label', {}, 'From', h('input', {
    type: 'datetime-local', name: 'StartTime', value: toLocal(state.StartTime),
    onchange: (e) => { state.StartTime = toWire(e.target.value); state.PageNumber = 1; changed(); },
  })),
  h('label', {}, 'To', h('input', {
    type: 'datetime-local', name: 'EndTime', value: toLocal(state.EndTime),
    onchange: (e) => { state.EndTime = toWire(e.target.value); state.PageNumber = 1; changed(); },
  })),
  select('SortBy', 'Sort by', SORTS, state.SortBy),
  select('Order', 'Order', [['desc', 'Descending'], ['asc', 'Ascending']], state.Order),
  select('PageSize', 'Per page', [10, 20, 50, 100].map((n) => [String(n), String(n)]),
    String(state.PageSize)));

  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Jobs'),
      h('a', { class: 'button primary', href: '#/submit' }, 'Submit a job')),
    filters, bulk, list, pager);

  function changed() {
    const qs = new URLSearchParams(Object.entries(state).filter(([k, v]) =>
      v !== '' && !(k === 'PageNumber' && v === 1) && !(k === 'SortBy' && v === 'GmtCreateTime')
      && !(k === 'Order' && v === 'desc') && !(k === 'ShowOwn' && v === 'true')
      && !(k === 'PageSize' && v === 20)));
    history.replaceState(null, '', `#/jobs${qs.toString() ? `?${qs}` : ''}`);
    selected.clear();
    lastKey = '';
    refresh();
  }

  function renderBulk() {
    const n = selected.size;
    fill(bulk,
      h('span', { class: 'muted' }, n ? `${n} selected` : 'Select jobs to stop or delete them together.'),
      h('button', { type: 'button', disabled: !n, onclick: () => bulkAction('stop') }, 'Stop selected'),
      h('button', { type: 'button', class: 'danger', disabled: !n, onclick: () => bulkAction('delete') },
        'Delete selected'));
  }

  async function bulkAction(what) {
    const ids = [...selected];
    const verb = what === 'stop' ? 'Stop' : 'Delete';
    if (!confirm(`${verb} ${ids.length} job${ids.length > 1 ? 's' : ''}?\n${ids.join('\n')}`)) return;
    const results = await Promise.allSettled(
      ids.map((id) => (what === 'stop' ? api.stopJob(id) : api.deleteJob(id))));
    const failed = results.map((r, i) => [r, ids[i]]).filter(([r]) => r.status === 'rejected');
    if (failed.length) {
      toast(`${verb}: ${failed.length} of ${ids.length} failed — ${failed.map(([r, id]) =>
        `${id}: ${r.reason.code || ''} ${r.reason.message}`).join('; ')}`, 'bad');
    } else {
      toast(`${verb === 'Stop' ? 'Stopping' : 'Deleted'} ${ids.length} job${ids.length > 1 ? 's' : ''}.`, 'ok');
    }
    selected.clear();
    lastKey = '';
    refresh();
  }

  let generation = 0;
  let lastKey = '';
  async function refresh() {
    const mine = ++generation;
    const q = { ...state };
    if (q.StartTime === '' && q.EndTime === '' && q.TimeRangeField === '') {
      // ListJobs shows the last 7 days by default: the console shows every job it keeps.
      q.StartTime = '1970-01-01T00:00:00Z';
    }
    let reply;
    try {
      reply = await api.listJobs(q);
    } catch (e) {
      if (mine === generation) fill(list, errorBox(e));
      return;
    }
    if (mine !== generation) return;
    const jobs = reply.Jobs || [];
    // Queued jobs: their place in the queue comes from GetJob.
    const queued = jobs.filter((j) => j.Status === 'Queuing');
    const places = new Map(await Promise.all(queued.map((j) =>
      api.getJob(j.JobId, { NeedDetail: 'false' })
        .then((g) => [j.JobId, g]).catch(() => [j.JobId, null]))));
    if (mine !== generation) return;
    for (const id of [...selected]) if (!jobs.some((j) => j.JobId === id)) selected.delete(id);
    // Unchanged: keep the rows (and the keyboard focus in them).
    const key = JSON.stringify([jobs, [...places]]);
    if (key === lastKey) return;
    lastKey = key;
    renderRows(jobs, places, Number(reply.TotalCount) || 0);
  }

  function renderRows(jobs, places, total) {
    list.setAttribute('aria-busy', 'false');
    if (!jobs.length) {
      fill(list, h('p', { class: 'empty' }, 'No jobs match.'));
    } else {
      const all = h('input', {
        type: 'checkbox', 'aria-label': 'Select all jobs on this page',
        checked: jobs.every((j) => selected.has(j.JobId)),
        onchange: (e) => {
          for (const j of jobs) (e.target.checked ? selected.add(j.JobId) : selected.delete(j.JobId));
          renderRows(jobs, places, total);
        },
      });
      const rows = jobs.map((j) => {
        const wait = places.get(j.JobId);
        const why = j.Status === 'Queuing' || j.Status === 'Creating'
          ? h('div', { class: 'why' },
            wait && wait.QueuePosition ? h('strong', {}, `#${wait.QueuePosition} in queue. `) : '',
            (wait && wait.ReasonMessage) || j.ReasonMessage || '')
          : (j.Status === 'Failed' && j.ReasonMessage ? h('div', { class: 'why' }, j.ReasonMessage) : '');
        return h('tr', { 'data-job-id': j.JobId, 'data-status': j.Status },
          h('td', {}, h('input', {
            type: 'checkbox', 'aria-label': `Select ${j.DisplayName} (${j.JobId})`,
            checked: selected.has(j.JobId),
            onchange: (e) => {
              (e.target.checked ? selected.add(j.JobId) : selected.delete(j.JobId));
              renderBulk();
            },
          })),
          h('td', {}, h('a', { href: `#/jobs/${encodeURIComponent(j.JobId)}` }, j.DisplayName || j.JobId),
            h('div', { class: 'id' }, j.JobId)),
          h('td', {}, j.JobType),
          h('td', {}, badge(j.Status), why),
          h('td', {}, `${j.RequestCPU ?? 0} CPU`, j.RequestGPU && j.RequestGPU !== '0' ? ` · ${j.RequestGPU} GPU` : '',
            h('div', { class: 'muted' }, j.RequestMemory || '')),
          h('td', {}, j.Priority ?? ''),
          h('td', {}, time(j.GmtCreateTime)),
          h('td', {}, isTerminal(j.Status) || j.GmtRunningTime ? duration(j.Duration) : '—'),
          h('td', {}, j.Username || j.UserId || ''),
          h('td', {}, j.WorkspaceName || j.WorkspaceId || ''));
      });
      fill(list, table([all, 'Name', 'Type', 'Status', 'Requests', 'Priority', 'Created',
        'Duration', 'User', 'Workspace'], rows, { class: 'jobs' }));
    }
    const pages = Math.max(1, Math.ceil(total / state.PageSize));
    fill(pager,
      h('button', {
        type: 'button', disabled: state.PageNumber <= 1,
        onclick: () => { state.PageNumber--; changed(); },
      }, '‹ Previous'),
      h('span', {}, `Page ${state.PageNumber} of ${pages} · ${total} job${total === 1 ? '' : 's'}`),
      h('button', {
        type: 'button', disabled: state.PageNumber >= pages,
        onclick: () => { state.PageNumber++; changed(); },
      }, 'Next ›'));
    renderBulk();
  }

  renderBulk();
  return every(3000, refresh);
}
