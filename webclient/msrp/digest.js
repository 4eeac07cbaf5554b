// HTTP Digest authentication on the client side of MSRP AUTH (RFC 4976 §5.1,
// §9.1; RFC 2617 §3.2): parsing a WWW-Authenticate challenge and building the
// Authorization header with qop=auth and algorithm MD5.

import { md5Hex } from './md5.js';
import { randomString } from './ident.js';

/**
 * A parsed Digest challenge (RFC 2617 §3.2.1).
 * @typedef {object} DigestChallenge
 * @property {string} realm
 * @property {string} nonce
 * @property {string[]} qop        the offered qop values (lower case)
 * @property {string} [opaque]
 * @property {string} [algorithm]
 * @property {boolean} stale
 */

/**
 * Parses the comma-separated auth-params of a header value such as
 * `Digest realm="x", nonce="y", qop="auth"` into its scheme and parameters
 * (names lower-cased, quoted values unescaped).
 * @param {string} value
 * @returns {{scheme: string, params: Record<string, string>}}
 * @throws {Error} on a malformed value
 */
export function parseAuthParams(value) {
  const s = value.trim();
  const sp = s.search(/\s/);
  if (sp <= 0) throw new Error(`malformed authentication header: ${JSON.stringify(value)}`);
  const scheme = s.slice(0, sp);
  const params = Object.create(null);
  let i = sp;
  const n = s.length;
  while (i < n) {
    while (i < n && (s[i] === ' ' || s[i] === '\t' || s[i] === ',')) i++;
    if (i >= n) break;
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new Error(`malformed auth-param in ${JSON.stringify(value)}`);
    const name = s.slice(i, eq).trim().toLowerCase();
    if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) throw new Error(`malformed auth-param name ${JSON.stringify(name)}`);
    i = eq + 1;
    while (i < n && (s[i] === ' ' || s[i] === '\t')) i++;
    let v = '';
    if (s[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const c = s[i];
        if (c === '\\' && i + 1 < n) { v += s[i + 1]; i += 2; continue; }
        if (c === '"') { closed = true; i++; break; }
        v += c;
        i++;
      }
      if (!closed) throw new Error(`unterminated quoted string in ${JSON.stringify(value)}`);
    } else {
      const start = i;
      while (i < n && s[i] !== ',' && s[i] !== ' ' && s[i] !== '\t') i++;
      v = s.slice(start, i);
    }
    params[name] = v;
  }
  return { scheme, params };
}

/**
 * Parses a WWW-Authenticate header value carrying a Digest challenge.
 * @param {string} value
 * @returns {DigestChallenge}
 * @throws {Error} when it is not a usable Digest challenge (RFC 4976 §9.1:
 *   qop must include "auth"; algorithm must be MD5 when given)
 */
export function parseChallenge(value) {
  const { scheme, params } = parseAuthParams(value);
  if (scheme.toLowerCase() !== 'digest') throw new Error(`relay asked for ${scheme} authentication; only Digest is supported`);
  if (params.realm === undefined || !params.nonce) throw new Error('Digest challenge without realm or nonce');
  const qop = (params.qop ?? '').split(',').map((q) => q.trim().toLowerCase()).filter(Boolean);
  if (!qop.includes('auth')) throw new Error('Digest challenge does not offer qop=auth (RFC 4976 §9.1)');
  if (params.algorithm && params.algorithm.toUpperCase() !== 'MD5') {
    throw new Error(`Digest algorithm ${params.algorithm} is not supported (MD5 only)`);
  }
  return {
    realm: params.realm,
    nonce: params.nonce,
    qop,
    opaque: params.opaque,
    algorithm: params.algorithm,
    stale: (params.stale ?? '').toLowerCase() === 'true',
  };
}

/**
 * Computes the request-digest of RFC 2617 §3.2.2.1 for qop=auth and MD5.
 * @param {{username: string, realm: string, password: string, method: string, uri: string, nonce: string, nc: string, cnonce: string}} p
 * @returns {string} 32 lower-case hex digits
 */
export function digestResponse(p) {
  const ha1 = md5Hex(`${p.username}:${p.realm}:${p.password}`);
  const ha2 = md5Hex(`${p.method}:${p.uri}`);
  return md5Hex(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`);
}

function quote(s) {
  return '"' + String(s).replace(/["\\]/g, (c) => '\\' + c) + '"';
}

/**
 * Builds the Authorization header value answering challenge (RFC 4976 §9.1:
 * qop and nc unquoted, uri quoted, cnonce and nc always present; the uri is
 * the rightmost To-Path URI of the AUTH request).
 * @param {object} p
 * @param {DigestChallenge} p.challenge
 * @param {string} p.username
 * @param {string} p.password
 * @param {string} p.method   "AUTH"
 * @param {string} p.uri
 * @param {number} [p.nc]     nonce count, 1 by default
 * @param {string} [p.cnonce] random by default
 * @returns {string}
 */
export function buildAuthorization(p) {
  const nc = (p.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = p.cnonce ?? randomString(16);
  const c = p.challenge;
  const response = digestResponse({
    username: p.username, realm: c.realm, password: p.password, method: p.method,
    uri: p.uri, nonce: c.nonce, nc, cnonce,
  });
  let h = `Digest username=${quote(p.username)}, realm=${quote(c.realm)}, nonce=${quote(c.nonce)}, ` +
    `uri=${quote(p.uri)}, response="${response}", qop=auth, cnonce=${quote(cnonce)}, nc=${nc}`;
  if (c.algorithm) h += `, algorithm=${c.algorithm}`;
  if (c.opaque !== undefined) h += `, opaque=${quote(c.opaque)}`;
  return h;
}
