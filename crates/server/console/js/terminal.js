// An in-page terminal for GetWebTerminal's WebSocket (docs/OBSERVABILITY.md): keystrokes go
// out as {"operation":"stdin","data":…}, the size as {"operation":"resize","cols":…,"rows":…},
// and {"operation":"stdout","data":…} comes back. It understands what a shell prompt needs
// (newlines, carriage returns, backspace, erase-line, cursor left/right) and drops the other
// escape sequences: enough for commands, not for full-screen programs.

import { h } from './ui.js';

const KEYS = {
  Enter: '\r', Backspace: '\x7f', Tab: '\t', Escape: '\x1b', Delete: '\x1b[3~',
  ArrowUp: '\x1b[A', ArrowDown: '\x1b[B', ArrowRight: '\x1b[C', ArrowLeft: '\x1b[D',
  Home: '\x1b[H', End: '\x1b[F',
};
const MAX_LINES = 2000;

export class Terminal {
  constructor() {
    this.lines = [''];
    this.col = 0;
    this.pending = '';
    this.screen = h('pre', { class: 'screen', 'aria-live': 'off' });
    this.el = h('div', {
      class: 'terminal', tabindex: '0', role: 'textbox', 'aria-multiline': 'true',
      'aria-label': 'Terminal: type to send keystrokes to the shell',
      onkeydown: (e) => this.key(e),
      onpaste: (e) => {
        e.preventDefault();
        this.send(e.clipboardData.getData('text'));
      },
    }, this.screen);
    this.socket = null;
  }

  /** Opens the socket at `url`; `onClose(reason)` is called when it ends. */
  connect(url, onClose) {
    const ws = new WebSocket(url);
    this.socket = ws;
    ws.onopen = () => { this.resize(); this.el.focus(); };
    ws.onmessage = (m) => {
      try {
        const msg = JSON.parse(m.data);
        if (msg.operation === 'stdout' && typeof msg.data === 'string') this.write(msg.data);
      } catch { /* not a protocol message */ }
    };
    ws.onclose = (e) => {
      this.socket = null;
      onClose(e.code === 1000 || e.code === 1005 ? 'the shell ended' : `closed (${e.code})`);
    };
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(this.el);
  }

  close() {
    if (this.observer) this.observer.disconnect();
    if (this.socket) this.socket.close();
  }

  send(data) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN && data) {
      this.socket.send(JSON.stringify({ operation: 'stdin', data }));
    }
  }

  resize() {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    const probe = h('span', {}, 'x'.repeat(10));
    this.screen.append(probe);
    const cw = probe.getBoundingClientRect().width / 10 || 8;
    const ch = probe.getBoundingClientRect().height || 16;
    probe.remove();
    const cols = Math.max(20, Math.floor((this.el.clientWidth - 16) / cw));
    const rows = Math.max(5, Math.floor((this.el.clientHeight - 16) / ch));
    if (cols !== this.cols || rows !== this.rows) {
      this.cols = cols; this.rows = rows;
      this.socket.send(JSON.stringify({ operation: 'resize', cols, rows }));
    }
  }

  key(e) {
    let data;
    if (e.ctrlKey && !e.altKey && e.key.length === 1) {
      const c = e.key.toUpperCase().charCodeAt(0);
      if (c >= 64 && c <= 95) data = String.fromCharCode(c - 64);
    } else if (KEYS[e.key]) {
      data = KEYS[e.key];
    } else if (e.key.length === 1 && !e.metaKey) {
      data = e.key;
    }
    if (data !== undefined) {
      e.preventDefault();
      this.send(data);
    }
  }

  /** Output from the shell. */
  write(text) {
    let s = this.pending + text;
    this.pending = '';
    let i = 0;
    while (i < s.length) {
      const c = s[i];
      if (c === '\x1b') {
        const rest = s.slice(i);
        const csi = /^\x1b\[([0-9;?]*)([ -\/]*)([@-~])/.exec(rest);
        const osc = /^\x1b\][^\x07\x1b]*(\x07|\x1b\\)/.exec(rest);
        if (csi) {
          this.control(csi[3], csi[1]);
          i += csi[0].length;
        } else if (osc) {
          i += osc[0].length;
        } else if (rest.length < 64 && /^\x1b(\[[0-9;?]*[ -\/]*|\][^\x07]*)?$/.test(rest)) {
          this.pending = rest; // an escape sequence cut by the read: finish it next time
          break;
        } else {
          i += 2;
        }
        continue;
      }
      if (c === '\n') { this.lines.push(''); this.col = 0; }
      else if (c === '\r') this.col = 0;
      else if (c === '\b') this.col = Math.max(0, this.col - 1);
      else if (c === '\x07') { /* bell */ }
      else if (c >= ' ' || c === '\t') this.put(c === '\t' ? ' '.repeat(8 - (this.col % 8)) : c);
      i++;
    }
    if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES);
    this.screen.textContent = this.lines.join('\n');
    this.el.scrollTop = this.el.scrollHeight;
  }

  put(chars) {
    const line = this.lines[this.lines.length - 1].padEnd(this.col);
    this.lines[this.lines.length - 1] = line.slice(0, this.col) + chars + line.slice(this.col + chars.length);
    this.col += chars.length;
  }

  control(final, args) {
    const n = Number(args) || 1;
    const last = this.lines.length - 1;
    if (final === 'K') {
      const line = this.lines[last];
      if (args === '' || args === '0') this.lines[last] = line.slice(0, this.col);
      else if (args === '2') this.lines[last] = '';
    } else if (final === 'C') {
      this.col += n;
    } else if (final === 'D') {
      this.col = Math.max(0, this.col - n);
    } else if (final === 'J' && args === '2') {
      this.lines = [''];
      this.col = 0;
    } else if (final === 'P') {
      const line = this.lines[last];
      this.lines[last] = line.slice(0, this.col) + line.slice(this.col + n);
    } else if (final === 'G') {
      this.col = n - 1;
    }
  }
}
