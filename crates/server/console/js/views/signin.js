// Sign-in: an access key pair, checked with one signed call and kept in this tab's
// sessionStorage (gone when the tab closes; never sent anywhere: only signatures are).

import { api, session } from '../api.js';
import { errorBox, h } from '../ui.js';

export const title = () => 'Sign in';

export function render(main, { query }) {
  const status = h('div', { 'aria-live': 'polite' });
  const id = h('input', {
    id: 'ak-id', name: 'id', required: true, autocomplete: 'username', spellcheck: 'false',
  });
  const secret = h('input', {
    id: 'ak-secret', name: 'secret', type: 'password', required: true,
    autocomplete: 'current-password',
  });
  const form = h('form', {
    class: 'card narrow',
    onsubmit: async (e) => {
      e.preventDefault();
      const previous = session.key();
      session.signIn(id.value.trim(), secret.value.trim());
      status.replaceChildren(h('p', {}, 'Checking…'));
      try {
        await api.listJobs({ PageSize: 1 });
        location.hash = query.next && query.next.startsWith('#/') && !query.next.startsWith('#/signin')
          ? query.next : '#/jobs';
      } catch (err) {
        if (previous) session.signIn(previous.id, previous.secret);
        else session.signOut();
        status.replaceChildren(errorBox(err));
      }
    },
  },
  h('h1', {}, 'Sign in'),
  h('p', { class: 'muted' },
    'With an access key of this server (opendlc admin key add, or the admin key in the data directory’s credentials file). ',
    'The pair stays in this browser tab only; requests are signed with it like the SDK signs them.'),
  h('label', { for: 'ak-id' }, 'AccessKey ID'), id,
  h('label', { for: 'ak-secret' }, 'AccessKey secret'), secret,
  h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  status);
  main.append(form);
  id.focus();
}
