// A job's overview: why it waits, its facts, the roles and command it runs (secret-looking
// environment variables masked), its pods with their history, the status timeline and its
// TensorBoards.

import { api } from '../../api.js';
import {
  badge, bytes, duration, errorText, facts, fill, h, mask, isSecret, statusKind, table, time, toast,
} from '../../ui.js';

export function mount(panel, ctx) {
  const waitBox = h('div');
  const summary = h('div', { class: 'card' });
  const pods = h('div', { class: 'card' });
  const timeline = h('div', { class: 'card' });
  const spec = h('div', { class: 'card' });
  const boards = h('div', { class: 'card' });
  panel.append(waitBox, summary, pods, timeline, spec, boards);

  let lastKey = '';
  // GetJob has no Username (PAI's has none): the owner's name comes from the job's ListJobs
  // entry, as in the job list. A shared read-only view cannot list jobs: it shows the id.
  let owner = '';
  const update = (job) => {
    const key = JSON.stringify({ ...job, RequestId: '', Duration: 0, owner });
    if (key === lastKey) return updateDurations(job);
    lastKey = key;
    fill(waitBox, waiting(job));
    fill(summary, h('h2', {}, 'Summary'), summaryFacts(job, owner));
    fill(pods, h('h2', {}, 'Pods'), podTable(job, ctx));
    fill(timeline, h('h2', {}, 'Status history'), statusTimeline(job));
    fill(spec, h('h2', {}, 'Specification'), specView(job));
  };
  const updateDurations = (job) => {
    const d = summary.querySelector('[data-field=duration]');
    if (d) d.textContent = duration(job.Duration);
  };
  update(ctx.job);
  ctx.listeners.add(update);
  if (!ctx.readOnly) {
    api.listJobs({ JobIds: ctx.id, ShowOwn: 'false' }).then((r) => {
      const item = (r.Jobs || []).find((j) => j.JobId === ctx.id);
      if (item && item.Username) {
        owner = item.Username;
        update(ctx.job);
      }
    }).catch(() => { /* the id stays */ });
  }
  loadTensorboards(boards, ctx);
  return () => ctx.listeners.delete(update);
}

function waiting(job) {
  if (!['Queuing', 'Creating', 'Bidding'].includes(job.Status)) return '';
  return h('div', { class: 'callout wait', role: 'status', id: 'queue-wait' },
    h('strong', {}, job.QueuePosition ? `#${job.QueuePosition} in the queue. ` : 'Waiting to be queued. '),
    job.ReasonMessage || '',
    job.EstimatedStartTime ? ` Expected to start around ${time(job.EstimatedStartTime)}.` : '');
}

function summaryFacts(job, owner) {
  const gpu = Number(job.RequestGPU) || 0;
  return facts([
    ['Status', [badge(job.Status), job.SubStatus ? ` ${job.SubStatus}` : '']],
    ['Reason', job.ReasonCode ? `${job.ReasonCode}: ${job.ReasonMessage || ''}` : ''],
    ['Type', job.JobType],
    ['Priority', job.Priority],
    ['Workspace', job.WorkspaceName || job.WorkspaceId],
    ['Quota', job.ResourceId],
    ['Owner', owner || job.UserId],
    ['Visibility', job.Accessibility],
    ['Requests', `${job.RequestCPU ?? 0} CPU · ${bytes((Number(job.RequestMemory) || 0) * 1024 ** 3)} memory${gpu ? ` · ${gpu} GPU` : ''}`],
    ['Created', time(job.GmtCreateTime)],
    ['Started', job.GmtRunningTime ? time(job.GmtRunningTime) : ''],
    ['Finished', job.GmtFinishTime ? time(job.GmtFinishTime) : ''],
    ['Duration', h('span', { 'data-field': 'duration' }, duration(job.Duration))],
    ['Restarts', job.RestartTimes],
  ]);
}

function podTable(job, ctx) {
  const list = job.Pods || [];
  if (!list.length) return h('p', { class: 'empty' }, 'No pods yet: they are created when the job starts.');
  const rows = [];
  for (const p of list) {
    const history = p.HistoryPods || [];
    rows.push(h('tr', { 'data-pod-id': p.PodId },
      h('th', { scope: 'row' }, p.PodId),
      h('td', {}, p.Type),
      h('td', {}, badge(p.Status)),
      h('td', {}, p.Ip || '—'),
      h('td', {}, p.NodeName || '—'),
      h('td', {}, String(history.length)),
      h('td', {}, time(p.GmtStartTime)),
      h('td', {}, duration(p.Duration)),
      h('td', { class: 'actions' },
        h('button', { type: 'button', class: 'link', onclick: () => ctx.show('logs', { podId: p.PodId }) }, 'Logs'),
        !ctx.readOnly && p.Status === 'Running'
          ? h('button', { type: 'button', class: 'link', onclick: () => ctx.show('terminal', { podId: p.PodId }) }, 'Terminal')
          : '')));
    for (const old of history) {
      rows.push(h('tr', { class: 'history' },
        h('td', {}, `↳ earlier ${old.PodUid ? old.PodUid.slice(0, 8) : ''}`),
        h('td', {}, old.Type),
        h('td', {}, badge(old.Status)),
        h('td', {}, old.Ip || '—'),
        h('td', {}, old.NodeName || '—'),
        h('td', {}, ''),
        h('td', {}, time(old.GmtStartTime)),
        h('td', {}, duration(old.Duration)),
        h('td', {}, '')));
    }
  }
  return table(['Pod', 'Role', 'Status', 'IP', 'Node', 'Restarts', 'Started', 'Duration', ''], rows, { class: 'pods' });
}

function statusTimeline(job) {
  const history = job.StatusHistory || [];
  if (!history.length) return h('p', { class: 'empty' }, 'No status changes yet.');
  const now = Date.now();
  const spans = history.map((s) => {
    const start = Date.parse(s.StartTime);
    const end = s.EndTime ? Date.parse(s.EndTime) : now;
    return { ...s, start, end, ms: Math.max(0, end - start) };
  });
  const total = spans.reduce((a, s) => a + s.ms, 0) || 1;
  const bar = h('div', { class: 'timeline', role: 'img', 'aria-label': spans.map((s) => `${s.Status} ${duration(s.ms / 1000)}`).join(', ') },
    spans.map((s) => h('div', {
      class: `seg ${statusKind(s.Status)}`, title: `${s.Status}: ${duration(s.ms / 1000)}`,
      style: `flex-grow:${Math.max(s.ms / total, 0.02)}`,
    }, h('span', {}, s.Status))));
  const rows = spans.map((s) => h('tr', {},
    h('td', {}, badge(s.Status)),
    h('td', {}, time(s.StartTime)),
    h('td', {}, s.EndTime ? time(s.EndTime) : 'now'),
    h('td', {}, duration(s.ms / 1000)),
    h('td', {}, s.ReasonCode ? `${s.ReasonCode}: ${s.ReasonMessage || ''}` : '')));
  return [bar, table(['Status', 'From', 'To', 'For', 'Reason'], rows)];
}

function specView(job) {
  const roles = (job.JobSpecs || []).map((r) => {
    const rc = r.ResourceConfig || {};
    const res = r.EcsSpec || [rc.CPU && `${rc.CPU} CPU`, rc.Memory && `${rc.Memory} memory`, rc.GPU && `${rc.GPU} GPU`]
      .filter(Boolean).join(' · ') || '—';
    return h('tr', {}, h('td', {}, r.Type), h('td', {}, String(r.PodCount ?? '')),
      h('td', {}, h('code', {}, r.Image || '—')), h('td', {}, res));
  });
  const envs = Object.entries(job.Envs || {});
  const sources = job.DataSources || [];
  const code = job.CodeSource;
  return [
    h('h3', {}, 'Roles'),
    table(['Role', 'Pods', 'Image', 'Resources'], roles),
    h('h3', {}, 'Command'),
    h('pre', { class: 'command' }, job.UserCommand || ''),
    h('h3', {}, 'Environment'),
    envs.length
      ? table(['Name', 'Value'], envs.map(([k, v]) => h('tr', {},
        h('td', {}, h('code', {}, k)),
        h('td', { class: isSecret(k) ? 'masked' : '' }, h('code', {}, mask(k, v))))), { class: 'envs' })
      : h('p', { class: 'empty' }, 'None.'),
    sources.length ? [h('h3', {}, 'Data sources'), table(['Source', 'Mount path', 'Access'],
      sources.map((s) => h('tr', {}, h('td', {}, s.DataSourceId || s.Uri || ''),
        h('td', {}, s.MountPath || ''), h('td', {}, s.MountAccess || ''))))] : '',
    code && (code.CodeSourceId || code.MountPath)
      ? [h('h3', {}, 'Code'), facts([['Source', code.CodeSourceId], ['Branch', code.Branch],
        ['Commit', code.Commit], ['Mount path', code.MountPath]])]
      : '',
  ];
}

async function loadTensorboards(box, ctx) {
  if (ctx.readOnly) {
    box.remove();
    return;
  }
  const title = h('h2', {}, 'TensorBoards');
  if (!box.childElementCount) fill(box, title, h('p', { class: 'muted' }, 'Loading…'));
  let list;
  try {
    list = (await api.listTensorboards({ JobId: ctx.id, PageSize: 100 })).Tensorboards || [];
  } catch (e) {
    fill(box, title, h('p', { class: 'muted' }, errorText(e)), createForm(box, ctx));
    return;
  }
  fill(box, title, list.length
    ? table(['TensorBoard', 'Status', 'Summaries', ''], list.map((t) => h('tr', { dataset: { tensorboardId: t.TensorboardId } },
      h('td', {}, t.DisplayName || t.TensorboardId),
      h('td', {}, badge(t.Status)),
      h('td', {}, h('code', {}, t.SummaryRelativePath || t.SummaryPath || '')),
      h('td', {}, t.Status === 'Running' ? h('button', {
        type: 'button', class: 'link',
        onclick: async () => {
          try {
            const { TensorboardSharedUrl: url } = await api.tensorboardSharedUrl(t.TensorboardId, { ExpireTimeSeconds: 3600 });
            window.open(sameOrigin(url), '_blank', 'noopener');
          } catch (e) { toast(errorText(e), 'bad'); }
        },
      }, 'Open') : ''))))
    : h('p', { class: 'empty' }, 'None yet.'),
  createForm(box, ctx));
  // A TensorBoard being created becomes Running (or Failed, saying why) within seconds.
  if (list.some((t) => t.Status === 'Creating') && box.isConnected) {
    setTimeout(() => loadTensorboards(box, ctx), 1000);
  }
}

/** CreateTensorboard for this job: its summaries under the job's working directory. */
function createForm(box, ctx) {
  const path = h('input', {
    id: 'tb-summary', name: 'SummaryRelativePath', placeholder: 'e.g. logs/tb (empty: all of it)',
    'aria-label': "Summary directory, relative to the job's working directory",
  });
  return h('form', {
    class: 'inline', id: 'tensorboard-form',
    onsubmit: async (event) => {
      event.preventDefault();
      const body = { JobId: ctx.id };
      if (path.value.trim()) body.SummaryRelativePath = path.value.trim();
      try {
        const { TensorboardId } = await api.createTensorboard(body);
        toast(`TensorBoard ${TensorboardId} is starting`);
        await loadTensorboards(box, ctx);
      } catch (e) { toast(errorText(e), 'bad'); }
    },
  }, h('label', { for: 'tb-summary' }, 'Summaries'), path,
  h('button', { type: 'submit', id: 'create-tensorboard' }, 'Create TensorBoard'));
}

/** The server reports its own listening address; the browser may know it by another name. */
export function sameOrigin(url) {
  try {
    const u = new URL(url);
    return `${location.origin}${u.pathname}${u.search}`;
  } catch {
    return url;
  }
}
