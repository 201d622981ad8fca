// The console's only way to the server: the public PAI-DLC API, signed in the browser exactly
// as the SDK signs (sign.js), or, in a shared read-only view, an unsigned request carrying the
// share token. Errors come back in the API's envelope and are thrown as ApiError.

import { acsDate, API_VERSION, encode, signedHeaders } from './sign.js';

const KEY_ITEM = 'opendlc.accessKey';
/** AIWorkspace's API version (ListWorkspaces, ListImages). */
export const AIWORKSPACE = '2021-02-04';

export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

/** Who the console calls as: a key pair in this tab's sessionStorage, or a share token. */
export const session = {
  /** The share token of a read-only view (set from the page's address, never stored). */
  token: null,
  key() {
    try {
      const key = JSON.parse(sessionStorage.getItem(KEY_ITEM) || 'null');
      return key && key.id && key.secret ? key : null;
    } catch {
      return null;
    }
  },
  signIn(id, secret) {
    sessionStorage.setItem(KEY_ITEM, JSON.stringify({ id, secret }));
  },
  signOut() {
    sessionStorage.removeItem(KEY_ITEM);
  },
  /** Read-only: no key, or viewing through a share token. */
  readOnly() {
    return Boolean(this.token) || !this.key();
  },
};

// The server refuses signatures more than 15 minutes off its clock: follow its Date header.
let skewMs = 0;
function noteServerDate(response) {
  const date = Date.parse(response.headers.get('date') || '');
  if (!Number.isNaN(date)) {
    const skew = date - Date.now();
    skewMs = Math.abs(skew) > 60_000 ? skew : 0;
  }
}

function nonce() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** A path segment, encoded as the SDK encodes ids. */
export const seg = (value) => encode(value);

function queryPairs(query) {
  return Object.entries(query || {})
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => [k, String(v)]);
}

/** The request's URL and headers: signed with the session's key, or carrying the token. */
export function prepare(action, method, path, { query, body, version = API_VERSION } = {}) {
  const pairs = queryPairs(query);
  const key = session.key();
  const headers = new Headers();
  if (session.token || !key) {
    if (session.token) pairs.push(['token', session.token]);
    headers.set('accept', 'application/json');
    if (body !== undefined) headers.set('content-type', 'application/json; charset=utf-8');
  } else {
    const signed = signedHeaders({
      host: location.host, action, version, method, path, query: pairs, body,
      key, date: acsDate(new Date(Date.now() + skewMs)), nonce: nonce(),
    });
    // The browser sets Host itself, to the same value.
    for (const [name, value] of signed) if (name !== 'host') headers.set(name, value);
  }
  const qs = pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&');
  return { url: path + (qs ? `?${qs}` : ''), init: { method, headers, body, cache: 'no-store' } };
}

async function fail(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // Not the API's envelope (a proxy's page): say what came back.
  }
  return new ApiError(
    response.status,
    body.Code || body.code || `HTTP${response.status}`,
    body.Message || body.message || response.statusText || 'request failed',
    body.RequestId,
  );
}

/** One API call; resolves to the response's JSON body. */
export async function call(action, method, path, options = {}) {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  let { url, init } = prepare(action, method, path, { ...options, body });
  let response;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(url, init);
    } catch (e) {
      throw new ApiError(0, 'NetworkError', `The server cannot be reached (${e.message}).`);
    }
    noteServerDate(response);
    if (response.ok) return response.json();
    const error = await fail(response);
    // A wrong clock: sign once more with the server's time.
    if (attempt === 0 && error.code === 'InvalidTimeStamp.Expired' && skewMs) {
      ({ url, init } = prepare(action, method, path, { ...options, body }));
      continue;
    }
    throw error;
  }
}

/**
 * Follows a job's logs through the stream extension (NDJSON), calling `onRecords` with each
 * batch of `{PodId, Time, Stream, Line}`. Resolves when the stream ends (the job ended), or
 * when `signal` aborts it.
 */
export async function streamLogs(jobId, { podId, tail = 2000, follow = true, signal }, onRecords) {
  const { url, init } = prepare('StreamJobLogs', 'GET', `/api/v1/jobs/${seg(jobId)}/logs/stream`, {
    query: { PodId: podId, Tail: tail, Follow: follow ? 'true' : 'false' },
  });
  const response = await fetch(url, { ...init, signal });
  if (!response.ok) throw await fail(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    const lines = pending.split('\n');
    pending = lines.pop();
    const records = [];
    for (const line of lines) {
      if (!line) continue;
      try {
        records.push(JSON.parse(line));
      } catch {
        // A malformed line cannot happen with this server; skip rather than stop following.
      }
    }
    if (records.length) onRecords(records);
  }
}

// The operations the console uses, by name.
const job = (id) => `/api/v1/jobs/${seg(id)}`;
export const api = {
  listJobs: (query) => call('ListJobs', 'GET', '/api/v1/jobs', { query }),
  getJob: (id, query) => call('GetJob', 'GET', job(id), { query }),
  createJob: (body) => call('CreateJob', 'POST', '/api/v1/jobs', { body }),
  stopJob: (id) => call('StopJob', 'POST', `${job(id)}/stop`),
  deleteJob: (id) => call('DeleteJob', 'DELETE', job(id)),
  jobEvents: (id, query) => call('GetJobEvents', 'GET', `${job(id)}/events`, { query }),
  podEvents: (id, pod, query) =>
    call('GetPodEvents', 'GET', `${job(id)}/pods/${seg(pod)}/events`, { query }),
  podLogs: (id, pod, query) =>
    call('GetPodLogs', 'GET', `${job(id)}/pods/${seg(pod)}/logs`, { query }),
  metrics: (id, query) => call('GetJobMetrics', 'GET', `${job(id)}/metrics`, { query }),
  dashboard: (id, query) => call('GetDashboard', 'GET', `${job(id)}/dashboard`, { query }),
  rayDashboard: (id, query) => call('GetRayDashboard', 'GET', `${job(id)}/rayDashboard`, { query }),
  webTerminal: (id, pod, query) =>
    call('GetWebTerminal', 'GET', `${job(id)}/pods/${seg(pod)}/webterminal`, { query }),
  listTensorboards: (query) => call('ListTensorboards', 'GET', '/api/v1/tensorboards', { query }),
  createTensorboard: (body) => call('CreateTensorboard', 'POST', '/api/v1/tensorboards', { body }),
  tensorboardSharedUrl: (id, query) =>
    call('GetTensorboardSharedUrl', 'GET', `/api/v1/tensorboards/${seg(id)}/sharedurl`, { query }),
  ecsSpecs: (query) => call('ListEcsSpecs', 'GET', '/api/v1/ecsspecs', { query }),
  capacity: () => call('GetCapacity', 'GET', '/api/v1/capacity'),
  workspaces: (query) =>
    call('ListWorkspaces', 'GET', '/api/v1/workspaces', { query, version: AIWORKSPACE }),
  images: (query) => call('ListImages', 'GET', '/api/v1/images', { query, version: AIWORKSPACE }),
};
