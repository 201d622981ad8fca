// Small DOM and formatting helpers shared by the views. Text always goes in as text nodes
// (never innerHTML), so nothing a job says can become markup.

/** `h('a', {href: '#/x', class: 'c', onclick: f}, 'text', child…)`: an element. */
export function h(tag, attrs = {}, ...children) {
  const svg = tag.startsWith('svg:');
  const el = svg
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'style' && !svg) {
      el.style.cssText = value; // through the CSSOM: the page's CSP forbids style attributes
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (!svg && name in el && typeof value !== 'string') {
      el[name] = value;
    } else {
      el.setAttribute(name === 'className' ? 'class' : name, value === true ? '' : value);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const TERMINAL = new Set(['Succeeded', 'Failed', 'Stopped']);
export const isTerminal = (status) => TERMINAL.has(status);

/** The colour class of a job, pod or TensorBoard status. */
export function statusKind(status) {
  switch (status) {
    case 'Succeeded': return 'ok';
    case 'Failed': case 'FailedReserving': return 'bad';
    case 'Stopped': case 'Stopping': return 'muted';
    case 'Running': case 'SucceededReserving': return 'run';
    case 'Queuing': case 'Creating': case 'Bidding': case 'Pending': return 'wait';
    default: return 'info';
  }
}

export function badge(status) {
  return h('span', { class: `badge ${statusKind(status)}`, 'data-status': status }, status || '—');
}

export function time(wire) {
  if (!wire) return '—';
  const d = new Date(wire);
  if (Number.isNaN(d.getTime())) return wire;
  return d.toLocaleString(undefined, {
    year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
  });
}

export function duration(seconds) {
  if (seconds === undefined || seconds === null || seconds === '') return '—';
  let s = Math.max(0, Math.round(Number(seconds)));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hr = Math.floor(s / 3600); s -= hr * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${d}d ${hr}h`;
  if (hr) return `${hr}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

export function bytes(n) {
  if (n === undefined || n === null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n), i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function mib(n) {
  return bytes(Number(n) * 1024 * 1024);
}

export function cores(n) {
  const v = Number(n);
  return Number.isInteger(v) ? String(v) : v.toFixed(2).replace(/0+$/, '');
}

/** Environment variables whose value is a secret by its name: shown masked. */
const SECRET = /KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE/i;
export const isSecret = (name) => SECRET.test(name);
export const mask = (name, value) => (isSecret(name) ? '••••••••' : value);

let toastTimer;
/** A short message in the live region (read out by screen readers). */
export function toast(message, kind = 'info') {
  const el = document.getElementById('toast');
  if (!el) return;
  fill(el, h('div', { class: `toast ${kind}` }, message));
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.replaceChildren(), kind === 'bad' ? 9000 : 4000);
}

/** An error from a call, as the user reads it. */
export function errorText(e) {
  return e && e.code ? `${e.code}: ${e.message}` : String(e && e.message ? e.message : e);
}

export function errorBox(e) {
  return h('p', { class: 'error', role: 'alert' }, errorText(e));
}

/** A table from column headers and rows of cells. */
export function table(headers, rows, attrs = {}) {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows));
}

/** A definition list from `[label, value]` pairs (empty values left out). */
export function facts(pairs) {
  return h('dl', { class: 'facts' },
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
      .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** Calls `fn` now and every `ms` while the page is visible; returns the stop function. */
export function every(ms, fn) {
  let stopped = false, timer;
  const tick = async () => {
    if (stopped) return;
    if (document.visibilityState !== 'hidden') {
      try { await fn(); } catch { /* the view shows its own errors */ }
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

/** Parses `a=1&b=2` (the part of the hash after `?`). */
export function params(qs) {
  return Object.fromEntries(new URLSearchParams(qs || ''));
}

/** Copies text, with a fallback for plain-http pages where the Clipboard API is absent. */
export async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h('textarea', { readonly: true, class: 'offscreen' }, text);
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}
