// ACS3-HMAC-SHA256 request signing, exactly as the official SDK signs (and as the server
// checks: opendlc_api::signature). Pure functions: the clock and the nonce are inputs.
//
//   CanonicalRequest = METHOD \n PATH \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n hex(sha256(body))
//   StringToSign     = "ACS3-HMAC-SHA256\n" + hex(sha256(CanonicalRequest))
//   Authorization    = "ACS3-HMAC-SHA256 Credential=<AK>,SignedHeaders=<names>,Signature=<hex hmac>"

import { hex, hmacSha256, sha256 } from './crypto.js';

export const ALGORITHM = 'ACS3-HMAC-SHA256';
export const API_VERSION = '2020-12-03';

/** RFC 3986 percent-encoding: unreserved characters stay, the rest is %XX (upper-case). */
export function encode(value) {
  return encodeURIComponent(String(value)).replace(
    /[!'()*]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** `k=v` pairs sorted by key (then value), values encoded, joined with `&`. */
export function canonicalQuery(query) {
  const pairs = query.map(([k, v]) => [String(k), String(v)]);
  pairs.sort((a, b) => cmp(a[0], b[0]) || cmp(a[1], b[1]));
  return pairs.map(([k, v]) => `${k}=${encode(v)}`).join('&');
}

// Byte order, as the server sorts (Rust's str ordering): code points, not UTF-16 units.
function cmp(a, b) {
  const x = [...a], y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d) return d;
  }
  return x.length - y.length;
}

/** [canonical headers, SignedHeaders] of `[name, value]` pairs. */
export function canonicalHeaders(headers) {
  const map = new Map();
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    if (!map.has(key)) map.set(key, []);
    map.get(key).push(String(value).trim());
  }
  const names = [...map.keys()].sort(cmp);
  const canonical = names.map((n) => `${n}:${map.get(n).sort(cmp).join(',')}\n`).join('');
  return [canonical, names.join(';')];
}

/** The canonical request and SignedHeaders of one request. */
export function canonicalRequest({ method, path, query = [], headers, body = '' }) {
  const [canonical, signed] = canonicalHeaders(headers);
  const text = [
    method.toUpperCase(),
    path || '/',
    canonicalQuery(query),
    canonical,
    signed,
    hex(sha256(body)),
  ].join('\n');
  return [text, signed];
}

export function stringToSign(canonical) {
  return `${ALGORITHM}\n${hex(sha256(canonical))}`;
}

/** The Authorization header's value. */
export function authorization(request, accessKeyId, secret) {
  const [canonical, signed] = canonicalRequest(request);
  const signature = hex(hmacSha256(secret, stringToSign(canonical)));
  return `${ALGORITHM} Credential=${accessKeyId},SignedHeaders=${signed},Signature=${signature}`;
}

/** `2024-01-01T00:00:00Z`: UTC, whole seconds. */
export function acsDate(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Every header a console request carries, Authorization last. A browser sets Host itself (to
 * the page's host) and will not let a page set User-Agent, so `host` is signed with the value
 * the browser sends and no user-agent is signed (the server verifies whatever is listed in
 * SignedHeaders, and requires only host and the x-acs-* headers).
 */
export function signedHeaders({
  host, action, version = API_VERSION, method, path, query = [], body, key, date, nonce,
}) {
  const headers = [
    ['host', host],
    ['x-acs-version', version],
    ['x-acs-action', action],
    ['x-acs-date', date],
    ['x-acs-signature-nonce', nonce],
    ['accept', 'application/json'],
  ];
  if (body !== undefined && body !== null) {
    headers.push(['content-type', 'application/json; charset=utf-8']);
  }
  headers.push(['x-acs-content-sha256', hex(sha256(body ?? ''))]);
  const auth = authorization({ method, path, query, headers, body: body ?? '' }, key.id, key.secret);
  headers.push(['authorization', auth]);
  return headers;
}
