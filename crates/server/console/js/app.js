// The console's shell: the navigation, the routes (in the address's #fragment, so a share
// token in it never reaches a server log) and who is signed in.
//
//   #/jobs?…           the job list (its filters are in the query)
//   #/jobs/<JobId>     one job; ?token=… opens it read-only through a share token
//   #/submit           the CreateJob form
//   #/capacity         the pool, quotas and queue
//   #/signin           the access key form

import { session } from './api.js';
import { fill, h, params } from './ui.js';
import * as capacity from './views/capacity.js';
import * as job from './views/job.js';
import * as jobs from './views/jobs.js';
import * as signin from './views/signin.js';
import * as submit from './views/submit.js';

const main = document.getElementById('main');
let cleanup = null;

/** `#/jobs/dlc1?tab=logs` → `{parts: ['jobs', 'dlc1'], query: {tab: 'logs'}}`. */
function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, qs] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const query = params(qs);
  // A link may carry the token in the page's query instead: `/?token=…#/jobs/<id>`.
  const outer = params(location.search.slice(1));
  if (!query.token && outer.token) query.token = outer.token;
  return { parts, query };
}

function nav(active, readOnly) {
  const link = (href, name, label) =>
    h('a', { href, 'aria-current': active === name ? 'page' : false }, label);
  const who = document.getElementById('who');
  const key = session.key();
  if (session.token) {
    fill(who, h('span', { class: 'muted' }, 'Shared read-only view'));
  } else if (key) {
    fill(who,
      h('span', { class: 'muted', title: 'Signed in with this access key' }, key.id),
      h('button', {
        type: 'button', class: 'link', onclick: () => {
          session.signOut();
          location.hash = '#/signin';
        },
      }, 'Sign out'));
  } else {
    fill(who);
  }
  fill(document.getElementById('nav'),
    readOnly || !key ? [] : [
      link('#/jobs', 'jobs', 'Jobs'),
      link('#/submit', 'submit', 'Submit'),
      link('#/capacity', 'capacity', 'Capacity'),
    ]);
}

async function render() {
  if (cleanup) {
    try { cleanup(); } catch { /* a view's teardown must not block the next */ }
    cleanup = null;
  }
  const { parts, query } = route();
  const [page = 'jobs', id] = parts;
  // A share token opens its one job, read-only; it is never stored.
  session.token = page === 'jobs' && id && query.token ? query.token : null;
  if (!session.token && !session.key() && page !== 'signin') {
    const next = location.hash || '#/jobs';
    location.replace(`#/signin?next=${encodeURIComponent(next)}`);
    return;
  }
  let view, name;
  if (page === 'signin') [view, name] = [signin, 'signin'];
  else if (page === 'jobs' && id) [view, name] = [job, 'job'];
  else if (page === 'jobs') [view, name] = [jobs, 'jobs'];
  else if (page === 'submit') [view, name] = [submit, 'submit'];
  else if (page === 'capacity') [view, name] = [capacity, 'capacity'];
  nav(name === 'job' ? 'jobs' : name, Boolean(session.token));
  main.replaceChildren();
  if (!view) {
    fill(main, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/jobs' }, 'Back to the jobs')));
    return;
  }
  document.title = `${view.title(id)} · opendlc`;
  cleanup = (await view.render(main, { id, query })) || null;
  // Move focus to the new page for keyboard and screen reader users (not on first load).
  if (render.done) main.focus({ preventScroll: true });
  render.done = true;
}

window.addEventListener('hashchange', render);
render();
