// A shell in a running pod, in the page: GetWebTerminal with IsShared=true (a browser cannot
// add credentials to a WebSocket, and a shared URL opens once, within 30 s, without them —
// the console opens it at once), then the documented JSON protocol (../../terminal.js).

import { api } from '../../api.js';
import { Terminal } from '../../terminal.js';
import { errorText, fill, h } from '../../ui.js';
import { sameOrigin } from './overview.js';

export function mount(panel, ctx) {
  let term = null;
  const select = h('select', { id: 'terminal-pod' });
  const status = h('span', { class: 'muted', role: 'status', id: 'terminal-status' });
  const connect = h('button', { type: 'button', class: 'primary', id: 'terminal-connect', onclick: open }, 'Connect');
  const box = h('div', { class: 'terminal-box' });
  panel.append(h('div', { class: 'toolbar' }, h('label', {}, 'Pod ', select), connect, status), box);

  function pods(job) {
    const running = (job.Pods || []).filter((p) => p.Status === 'Running').map((p) => p.PodId);
    if ([...select.options].map((o) => o.value).join() === running.join()) return;
    const keep = select.value;
    fill(select, running.map((id) => h('option', { value: id, selected: id === keep }, id)));
    connect.disabled = !running.length && !term;
    if (!running.length && !term) status.textContent = 'No running pod: a terminal needs one.';
  }

  async function open() {
    if (term) {
      term.close();
      return;
    }
    const pod = select.value;
    if (!pod) return;
    status.textContent = 'Connecting…';
    try {
      const reply = await api.webTerminal(ctx.id, pod, { IsShared: 'true' });
      const url = new URL(sameOrigin(reply.WebTerminalUrl));
      url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
      term = new Terminal();
      fill(box, term.el);
      connect.textContent = 'Disconnect';
      term.connect(url.toString(), (why) => {
        status.textContent = `Disconnected: ${why}.`;
        connect.textContent = 'Connect';
        term = null;
        pods(ctx.job);
      });
      status.textContent = `Connected to ${pod}.`;
    } catch (e) {
      status.textContent = errorText(e);
    }
  }

  pods(ctx.job);
  ctx.listeners.add(pods);
  return () => {
    ctx.listeners.delete(pods);
    if (term) term.close();
  };
}

export function focus(options = {}) {
  const select = document.getElementById('terminal-pod');
  if (select && options.podId) select.value = options.podId;
}
