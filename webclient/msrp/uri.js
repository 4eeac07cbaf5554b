// MSRP URIs (RFC 4975 §6, §9; RFC 7977 §5.2.1 adds the "ws" transport):
//
//   MSRP-URI = msrp-scheme "://" authority ["/" session-id] ";" transport *( ";" URI-parameter)

/**
 * A parsed MSRP URI.
 * @typedef {object} MsrpUri
 * @property {boolean} secure   true for msrps
 * @property {string} user      userinfo, or ""
 * @property {string} host      host name or address (IPv6 without brackets)
 * @property {number|null} port explicit port, or null
 * @property {string} sessionId session-id, or ""
 * @property {string} transport transport parameter ("tcp", "ws", …), as written
 * @property {string} params    the URI-parameters after the transport, including their ";"
 * @property {string} raw       the URI as it was written
 */

const SESSION_ID_RE = /^[A-Za-z0-9\-._~+=/%]+$/;
const TRANSPORT_RE = /^[A-Za-z0-9]+$/;

/**
 * Parses an MSRP URI.
 * @param {string} s
 * @returns {MsrpUri}
 * @throws {Error} when s is not an MSRP URI
 */
export function parseUri(s) {
  const m = /^(msrps?):\/\/([^/;]+)(?:\/([^;]*))?;(.*)$/i.exec(s);
  if (!m) throw new Error(`not an MSRP URI: ${JSON.stringify(s)}`);
  const secure = m[1].toLowerCase() === 'msrps';
  let authority = m[2];
  let user = '';
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    user = authority.slice(0, at);
    authority = authority.slice(at + 1);
  }
  let host, port = null, portText = '';
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) throw new Error(`bad IPv6 host in MSRP URI: ${JSON.stringify(s)}`);
    host = authority.slice(1, close);
    const rest = authority.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new Error(`bad authority in MSRP URI: ${JSON.stringify(s)}`);
      portText = rest.slice(1);
    }
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon >= 0) {
      host = authority.slice(0, colon);
      portText = authority.slice(colon + 1);
    } else {
      host = authority;
    }
  }
  if (host === '' || /[\s"<>]/.test(host)) throw new Error(`bad host in MSRP URI: ${JSON.stringify(s)}`);
  if (portText !== '' || authority.endsWith(':')) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
      throw new Error(`bad port in MSRP URI: ${JSON.stringify(s)}`);
    }
    port = Number(portText);
  }
  const sessionId = m[3] ?? '';
  if (m[3] !== undefined && !SESSION_ID_RE.test(sessionId)) {
    throw new Error(`bad session-id in MSRP URI: ${JSON.stringify(s)}`);
  }
  const semi = m[4].indexOf(';');
  const transport = semi < 0 ? m[4] : m[4].slice(0, semi);
  const params = semi < 0 ? '' : m[4].slice(semi);
  if (!TRANSPORT_RE.test(transport)) throw new Error(`bad transport in MSRP URI: ${JSON.stringify(s)}`);
  return { secure, user, host, port, sessionId, transport, params, raw: s };
}

/**
 * Formats an MSRP URI.
 * @param {{secure?: boolean, user?: string, host: string, port?: number|null, sessionId?: string, transport: string, params?: string}} u
 * @returns {string}
 */
export function formatUri(u) {
  let s = u.secure ? 'msrps://' : 'msrp://';
  if (u.user) s += u.user + '@';
  s += u.host.includes(':') ? `[${u.host}]` : u.host;
  if (u.port !== null && u.port !== undefined) s += ':' + u.port;
  if (u.sessionId) s += '/' + u.sessionId;
  s += ';' + u.transport + (u.params ?? '');
  return s;
}

/**
 * Compares two MSRP URIs by the rules of RFC 4975 §6.1: scheme, authority
 * (without userinfo) and transport case-insensitively, port exactly,
 * session-id case-sensitively.
 * @param {string | MsrpUri} a
 * @param {string | MsrpUri} b
 * @returns {boolean}
 */
export function uriEqual(a, b) {
  let x, y;
  try {
    x = typeof a === 'string' ? parseUri(a) : a;
    y = typeof b === 'string' ? parseUri(b) : b;
  } catch {
    return false;
  }
  return x.secure === y.secure &&
    decodeHost(x.host) === decodeHost(y.host) &&
    x.port === y.port &&
    x.sessionId === y.sessionId &&
    x.transport.toLowerCase() === y.transport.toLowerCase();
}

function decodeHost(h) {
  try {
    return decodeURIComponent(h).toLowerCase();
  } catch {
    return h.toLowerCase();
  }
}
