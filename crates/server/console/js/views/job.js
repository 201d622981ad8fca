// One job: its header (status, actions), then tabs — overview (spec, pods, timeline, links),
// live logs, metric plots, events and, for those who may change the job, a web terminal.
// GetJob is polled while the job is unfinished, so its status moves without a reload.

import { api, session } from '../api.js';
import {
  badge, copy, errorBox, errorText, every, fill, h, isTerminal, toast,
} from '../ui.js';
import * as events from './job/events.js';
import * as logs from './job/logs.js';
import * as metrics from './job/metrics.js';
import * as overview from './job/overview.js';
import * as terminal from './job/terminal.js';

export const title = (id) => `Job ${id}`;

const TABS = [
  ['overview', 'Overview', overview],
  ['logs', 'Logs', logs],
  ['metrics', 'Metrics', metrics],
  ['events', 'Events', events],
  ['terminal', 'Terminal', terminal],
];

export function render(main, { id, query }) {
  const readOnly = session.readOnly();
  const tabs = TABS.filter(([name]) => !(readOnly && name === 'terminal'));
  let current = tabs.some(([n]) => n === query.tab) ? query.tab : 'overview';
  const head = h('div', { class: 'page-head' }, h('h1', {}, id));
  const notice = h('div');
  const share = h('div');
  const tablist = h('div', { role: 'tablist', class: 'tabs', 'aria-label': 'Job sections' });
  const panels = {};
  const started = {};
  const ctx = {
    id, readOnly, job: null, listeners: new Set(),
    /** Switches to a tab, e.g. the logs of one pod. */
    show: (name, options) => select(name, options),
  };

  for (const [name, label] of tabs) {
    panels[name] = h('section', {
      id: `panel-${name}`, role: 'tabpanel', 'aria-labelledby': `tab-${name}`, hidden: true, class: 'panel',
    });
    tablist.append(h('button', {
      type: 'button', role: 'tab', id: `tab-${name}`, 'aria-controls': `panel-${name}`,
      onclick: () => select(name),
      onkeydown: (e) => {
        const i = tabs.findIndex(([n]) => n === name);
        const next = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : null;
        if (next === null) return;
        const [n] = tabs[(next + tabs.length) % tabs.length];
        select(n);
        document.getElementById(`tab-${n}`).focus();
      },
    }, label));
  }

  function select(name, options = {}) {
    current = name;
    for (const [n] of tabs) {
      const on = n === name;
      panels[n].hidden = !on;
      const tab = document.getElementById(`tab-${n}`);
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    const q = new URLSearchParams();
    if (name !== 'overview') q.set('tab', name);
    if (session.token) q.set('token', session.token);
    history.replaceState(null, '', `#/jobs/${encodeURIComponent(id)}${q.toString() ? `?${q}` : ''}`);
    const module = tabs.find(([n]) => n === name)[2];
    if (!started[name] && ctx.job) started[name] = module.mount(panels[name], ctx) || (() => {});
    if (module.focus && ctx.job) module.focus(options);
  }

  main.append(head, notice, share, tablist, ...Object.values(panels));

  function renderHead(job) {
    const actions = h('div', { class: 'toolbar' });
    if (!readOnly) {
      if (!isTerminal(job.Status)) {
        actions.append(h('button', {
          type: 'button', class: 'danger', id: 'stop-job',
          onclick: async () => {
            if (!confirm(`Stop job ${job.DisplayName} (${id})?`)) return;
            try {
              await api.stopJob(id);
              toast('Stopping the job.', 'ok');
              refresh();
            } catch (e) { toast(errorText(e), 'bad'); }
          },
        }, 'Stop'));
      }
      actions.append(h('button', {
        type: 'button', id: 'share-job',
        onclick: async () => {
          try {
            const { url } = await api.dashboard(id, { isShared: 'true' });
            const input = h('input', { readonly: true, value: url, 'aria-label': 'Read-only link', class: 'grow' });
            fill(share, h('div', { class: 'callout' },
              h('p', {}, 'A read-only link to this job, valid for 7 days (anyone with it can read the job, its logs and metrics):'),
              h('div', { class: 'row' }, input, h('button', {
                type: 'button', onclick: async () => toast(await copy(url) ? 'Copied.' : 'Copy it by hand.'),
              }, 'Copy'))));
            input.select();
          } catch (e) { toast(errorText(e), 'bad'); }
        },
      }, 'Share read-only link'));
      if (isTerminal(job.Status)) {
        actions.append(h('button', {
          type: 'button', class: 'danger',
          onclick: async () => {
            if (!confirm(`Delete job ${job.DisplayName} (${id})? Its logs and metrics go with it.`)) return;
            try {
              await api.deleteJob(id);
              toast('Deleted.', 'ok');
              location.hash = '#/jobs';
            } catch (e) { toast(errorText(e), 'bad'); }
          },
        }, 'Delete'));
      }
    }
    const onRay = job.JobType === 'RayJob' || job.JobType === 'DataJuicerJob';
    if (onRay && job.Status === 'Running') {
      actions.append(h('button', {
        type: 'button',
        onclick: async () => {
          try {
            const { url } = await api.rayDashboard(id);
            window.open(url, '_blank', 'noopener');
          } catch (e) { toast(errorText(e), 'bad'); }
        },
      }, 'Ray dashboard'));
    }
    fill(head,
      h('div', {},
        h('h1', {}, job.DisplayName || id, ' ', badge(job.Status)),
        h('div', { class: 'id' }, `${job.JobType} · ${id}`)),
      actions);
    document.title = `${job.DisplayName || id} (${job.Status}) · opendlc`;
    fill(notice, readOnly && session.token
      ? h('p', { class: 'callout' }, 'You are viewing this job through a shared link: read-only.')
      : '');
  }

  let finalDone = false;
  let stopPolling = () => {};
  async function refresh() {
    let job;
    try {
      job = await api.getJob(id);
    } catch (e) {
      fill(notice, errorBox(e));
      if (!ctx.job) {
        stopPolling();
        if (e.code === 'EntityNotFound.Job' || e.status === 404) {
          fill(head, h('h1', {}, 'No such job'));
        }
      }
      return;
    }
    const first = !ctx.job;
    ctx.job = job;
    renderHead(job);
    for (const listener of ctx.listeners) listener(job);
    if (first) select(current);
    // Poll while unfinished, and once more after the end (the last pods' exits).
    if (isTerminal(job.Status)) {
      if (finalDone) stopPolling();
      finalDone = true;
    }
  }
  stopPolling = every(2000, refresh);

  return () => {
    stopPolling();
    for (const stop of Object.values(started)) stop();
  };
}
