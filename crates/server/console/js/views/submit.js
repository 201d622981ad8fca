// Submit: a form for the common case (type, roles with count, instance type and image,
// command, environment, data sources), showing the CreateJob body it will send; or a pasted
// CreateJob body, sent as it is.

import { api } from '../api.js';
import { errorBox, fill, h } from '../ui.js';

export const title = () => 'Submit a job';

/**
 * The job types CreateJob accepts, each with its roles and what it runs, from the server (the
 * one list it checks against): `[{JobType, Roles, Description}]`, the most used first.
 * Fetched once per page load.
 */
let jobTypes;
function loadJobTypes() {
  jobTypes ||= fetch('/console/job-types.json', { cache: 'no-cache' })
    .then((r) => {
      if (!r.ok) throw new Error(`the job types did not load (HTTP ${r.status})`);
      return r.json();
    })
    .then((doc) => doc.JobTypes)
    .catch((e) => { jobTypes = undefined; throw e; });
  return jobTypes;
}

let uid = 0;
const field = (label, input, hint) => {
  const id = input.id || `f${++uid}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input,
    typeof hint === 'string' ? h('small', { class: 'muted' }, hint) : hint || '');
};

export async function render(main) {
  let types;
  try {
    types = await loadJobTypes();
  } catch (e) {
    fill(main, h('div', { class: 'page-head' }, h('h1', {}, 'Submit a job')), errorBox(e));
    return;
  }
  const rolesOf = Object.fromEntries(types.map((t) => [t.JobType, t.Roles]));
  const specs = h('datalist', { id: 'ecs-specs' });
  const images = h('datalist', { id: 'images' });
  const workspace = h('select', { name: 'WorkspaceId' }, h('option', { value: '' }, 'default'));
  const quota = h('select', { name: 'ResourceId' }, h('option', { value: '' }, 'the public pool'));
  api.ecsSpecs({ PageSize: 100 }).then((r) => fill(specs, (r.EcsSpecs || []).map((s) =>
    h('option', { value: s.InstanceType }, `${s.Cpu} CPU, ${s.Memory} GiB${s.Gpu ? `, ${s.Gpu} GPU` : ''}`)))).catch(() => {});
  api.images({ PageSize: 100 }).then((r) => fill(images, (r.Images || []).map((i) =>
    h('option', { value: i.ImageUri || i.Name }, i.Description || i.Name)))).catch(() => {});
  api.workspaces({ PageSize: 100 }).then((r) => fill(workspace, (r.Workspaces || []).map((w) =>
    h('option', { value: w.IsDefault ? '' : w.WorkspaceId }, w.WorkspaceName)))).catch(() => {});
  api.capacity().then((r) => quota.append(...(r.Quotas || []).map((q) =>
    h('option', { value: q.ResourceId }, `quota ${q.ResourceId}`)))).catch(() => {});

  const name = h('input', { name: 'DisplayName', required: true, value: 'my-job', autocomplete: 'off' });
  const type = h('select', { name: 'JobType', onchange: () => { roleTypes(); describe(); preview(); } },
    types.map((t) => h('option', { value: t.JobType, title: t.Description }, t.JobType)));
  const typeNote = h('small', { class: 'muted', id: 'job-type-note' });
  const describe = () => {
    typeNote.textContent = (types.find((t) => t.JobType === type.value) || {}).Description || '';
  };
  const command = h('textarea', {
    name: 'UserCommand', rows: 4, required: true, spellcheck: 'false',
    placeholder: 'python train.py --epochs 3',
  }, 'echo "rank $RANK of $WORLD_SIZE"; sleep 5');
  const priority = h('input', { name: 'Priority', type: 'number', min: 1, max: 9, value: 1 });
  const maxMinutes = h('input', { name: 'JobMaxRunningTimeMinutes', type: 'number', min: 0, placeholder: 'no limit' });
  const access = h('select', { name: 'Accessibility' },
    h('option', { value: 'PRIVATE' }, 'Private: me and workspace admins'),
    h('option', { value: 'PUBLIC' }, 'Public: every workspace member can read it'));
  const roles = h('div', { class: 'rows', id: 'roles' });
  const envs = h('div', { class: 'rows', id: 'envs' });
  const sources = h('div', { class: 'rows', id: 'sources' });
  const json = h('pre', { class: 'json', id: 'create-json', 'aria-label': 'The CreateJob request body' });
  const pasted = h('textarea', {
    id: 'pasted-json', rows: 18, spellcheck: 'false', class: 'code',
    placeholder: '{"DisplayName": "…", "JobType": "PyTorchJob", "JobSpecs": [ … ], "UserCommand": "…"}',
  });
  const result = h('div', { 'aria-live': 'polite' });

  const removeButton = (row, label) => h('button', {
    type: 'button', class: 'link', 'aria-label': label, onclick: () => { row.remove(); preview(); },
  }, 'Remove');

  function addRole(role = 'Worker', count = 1) {
    const row = h('div', { class: 'row role' });
    row.append(
      h('label', {}, 'Role ', h('select', { name: 'Type' })),
      h('label', {}, 'Pods ', h('input', { name: 'PodCount', type: 'number', min: 1, value: count, class: 'num' })),
      h('label', {}, 'Instance type ', h('input', { name: 'EcsSpec', list: 'ecs-specs', value: 'ecs.c6.large' })),
      h('label', { class: 'grow' }, 'Image ', h('input', { name: 'Image', list: 'images', value: 'local' })),
      removeButton(row, 'Remove this role'));
    roles.append(row);
    roleTypes(row, role);
  }
  function roleTypes(only, pick) {
    for (const row of only ? [only] : roles.children) {
      const sel = row.querySelector('[name=Type]');
      const keep = pick || sel.value;
      fill(sel, rolesOf[type.value].map((r) => h('option', { value: r, selected: r === keep }, r)));
    }
  }
  function addEnv(k = '', v = '') {
    const row = h('div', { class: 'row' });
    row.append(
      h('label', {}, 'Name ', h('input', { name: 'key', value: k, spellcheck: 'false' })),
      h('label', { class: 'grow' }, 'Value ', h('input', { name: 'value', value: v, spellcheck: 'false' })),
      removeButton(row, 'Remove this variable'));
    envs.append(row);
  }
  function addSource() {
    const row = h('div', { class: 'row' });
    row.append(
      h('label', { class: 'grow' }, 'Source ', h('input', { name: 'source', placeholder: 'DataSourceId, a path or file:// URI' })),
      h('label', {}, 'Mount path ', h('input', { name: 'MountPath', placeholder: '/mnt/data' })),
      h('label', {}, 'Access ', h('select', { name: 'MountAccess' },
        h('option', { value: 'RO' }, 'read-only'), h('option', { value: 'RW' }, 'read-write'))),
      removeButton(row, 'Remove this data source'));
    sources.append(row);
  }

  /** The CreateJob body the form describes. */
  function body() {
    const val = (row, n) => row.querySelector(`[name=${n}]`).value.trim();
    const b = {
      DisplayName: name.value.trim(),
      JobType: type.value,
      JobSpecs: [...roles.children].map((r) => ({
        Type: val(r, 'Type'), PodCount: Number(val(r, 'PodCount')) || 1,
        Image: val(r, 'Image'), EcsSpec: val(r, 'EcsSpec') || undefined,
      })),
      UserCommand: command.value,
    };
    const envPairs = [...envs.children].map((r) => [val(r, 'key'), r.querySelector('[name=value]').value]).filter(([k]) => k);
    if (envPairs.length) b.Envs = Object.fromEntries(envPairs);
    const ds = [...sources.children].map((r) => {
      const src = val(r, 'source');
      const isPath = src.startsWith('/') || src.startsWith('file:');
      return src && { [isPath ? 'Uri' : 'DataSourceId']: src, MountPath: val(r, 'MountPath') || undefined, MountAccess: val(r, 'MountAccess') };
    }).filter(Boolean);
    if (ds.length) b.DataSources = ds;
    if (workspace.value) b.WorkspaceId = workspace.value;
    if (quota.value) b.ResourceId = quota.value;
    if (Number(priority.value) && Number(priority.value) !== 1) b.Priority = Number(priority.value);
    if (maxMinutes.value) b.JobMaxRunningTimeMinutes = Number(maxMinutes.value);
    if (access.value !== 'PRIVATE') b.Accessibility = access.value;
    return JSON.parse(JSON.stringify(b));
  }
  function preview() {
    json.textContent = JSON.stringify(body(), null, 2);
  }

  async function send(payload) {
    fill(result, h('p', {}, 'Submitting…'));
    try {
      const { JobId } = await api.createJob(payload);
      location.hash = `#/jobs/${encodeURIComponent(JobId)}`;
    } catch (e) {
      fill(result, errorBox(e));
    }
  }

  const form = h('form', {
    id: 'submit-form', class: 'card',
    oninput: preview, onchange: preview,
    onsubmit: (e) => { e.preventDefault(); send(body()); },
  },
  h('div', { class: 'grid2' },
    field('Name', name),
    field('Type', type, typeNote),
    field('Workspace', workspace),
    field('Quota', quota),
    field('Priority', priority, '1 (lowest) to 9'),
    field('Maximum running time (minutes)', maxMinutes),
    field('Visibility', access)),
  h('fieldset', {}, h('legend', {}, 'Roles'), roles,
    h('button', { type: 'button', onclick: () => { addRole(); preview(); } }, 'Add a role')),
  field('Command', command, 'Runs in every pod with /bin/sh -c; $RANK, $WORLD_SIZE, $MASTER_ADDR… are set.'),
  h('fieldset', {}, h('legend', {}, 'Environment variables'), envs,
    h('button', { type: 'button', onclick: () => { addEnv(); preview(); } }, 'Add a variable')),
  h('fieldset', {}, h('legend', {}, 'Data sources'), sources,
    h('button', { type: 'button', onclick: () => { addSource(); preview(); } }, 'Add a data source')),
  h('button', { type: 'submit', class: 'primary', id: 'submit-job' }, 'Submit'));

  const paste = h('form', {
    class: 'card', id: 'paste-form',
    onsubmit: (e) => {
      e.preventDefault();
      let payload;
      try {
        payload = JSON.parse(pasted.value);
      } catch (err) {
        fill(result, errorBox({ code: 'InvalidJSON', message: `The body is not JSON: ${err.message}` }));
        return;
      }
      send(payload);
    },
  },
  h('h2', {}, 'Or paste a CreateJob body'),
  h('label', { for: 'pasted-json' }, 'JSON, sent as it is'),
  pasted,
  h('div', { class: 'toolbar' },
    h('button', { type: 'button', onclick: () => { pasted.value = json.textContent; } }, 'Start from the form'),
    h('button', { type: 'submit', class: 'primary' }, 'Submit this JSON')));

  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Submit a job')),
    specs, images, result,
    h('div', { class: 'split' },
      form,
      h('div', {},
        h('div', { class: 'card' }, h('h2', {}, 'The request it sends'), json),
        paste)));
  addRole('Worker', 1);
  describe();
  preview();
  name.focus();
  name.select();
}
