// Message/CPIM (RFC 3862): the wrapper that carries sender, recipient, time and
// extension headers (IMDN, RFC 5438 §6) around a MIME body. MSRP endpoints must
// support it (RFC 4975 §8.6) and chat rooms require it (RFC 7701 §5.2).
//
//   (message headers)  CRLF  (MIME content headers)  CRLF  (content)

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const CPIM_TYPE = 'message/cpim';
/** Namespace of the core CPIM headers (RFC 3862 §4). */
export const CPIM_HEADERS_NS = 'urn:ietf:params:cpim-headers:';
/** Namespace of the IMDN CPIM headers (RFC 5438 §6.1). */
export const IMDN_NS = 'urn:ietf:params:imdn';

/**
 * An address in a From, To or cc header (RFC 3862 §4.1): an optional formal
 * name and a URI.
 * @typedef {{uri: string, name?: string}} CpimAddress
 */

/**
 * One CPIM message header.
 * @typedef {{name: string, params: string, value: string}} CpimHeader
 *   name as written (with its prefix), params the ";…" part before the value
 *   (e.g. ";lang=fr"), value unescaped
 */

/**
 * Applies the escape mechanism of RFC 3862 §2.3.1 to a header value.
 * @param {string} s
 * @returns {string}
 */
export function escapeHeaderValue(s) {
  let out = '';
  for (const ch of String(s)) {
    const c = ch.codePointAt(0);
    if (ch === '\\') out += '\\\\';
    else if (c === 8) out += '\\b';
    else if (c === 9) out += '\\t';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out;
}

/**
 * Undoes the escape mechanism of RFC 3862 §2.3 (\uXXXX and the special
 * sequences; an unknown escape stands for the character after the backslash;
 * a lone final backslash is dropped).
 * @param {string} s
 * @returns {string}
 */
export function unescapeHeaderValue(s) {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') { out += c; continue; }
    if (i + 1 >= s.length) break;
    const e = s[++i];
    switch (e) {
      case 'b': out += '\b'; break;
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 'u': {
        const hex = s.slice(i + 1, i + 5);
        if (/^[0-9a-fA-F]{4}$/.test(hex)) {
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
        } else {
          out += 'u';
        }
        break;
      }
      default: out += e;
    }
  }
  return out;
}

/**
 * Formats an address for From/To/cc (RFC 3862 §4.1): `"Name" <uri>` or `<uri>`.
 * @param {CpimAddress} a
 * @returns {string}
 */
export function formatAddress(a) {
  const uri = String(a.uri).replace(/[<>\s]/g, (c) => encodeURIComponent(c));
  if (!a.name) return `<${uri}>`;
  const name = escapeHeaderValue(a.name).replace(/"/g, '\\"');
  return `"${name}" <${uri}>`;
}

/**
 * Parses an address of a From/To/cc header value (already unescaped, except
 * for the quotes of a String formal name, which this undoes).
 * @param {string} v the raw (escaped) header value
 * @returns {CpimAddress|null}
 */
export function parseAddress(v) {
  const m = /^(.*?)\s*<([^<>]*)>\s*$/.exec(v);
  if (!m) return null;
  let name = m[1].trim();
  if (name.startsWith('"') && name.endsWith('"') && name.length >= 2) name = name.slice(1, -1);
  name = unescapeHeaderValue(name);
  return name ? { uri: m[2], name } : { uri: m[2] };
}

/**
 * Formats a date as an RFC 3339 date-time (RFC 3862 §4.4) in UTC.
 * @param {Date} d
 * @returns {string}
 */
export function formatDateTime(d) {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * What buildCpim wraps.
 * @typedef {object} CpimParts
 * @property {CpimAddress} [from]
 * @property {CpimAddress | CpimAddress[]} [to]
 * @property {Date|string} [dateTime] a Date, or a preformatted date-time
 * @property {string} [subject]
 * @property {Record<string, string>} [ns] namespace prefixes to declare, prefix → URI
 * @property {Array<[string, string]>} [headers] further message headers, in order (names with prefix)
 * @property {string} contentType content type of the wrapped body
 * @property {Array<[string, string]>} [contentHeaders] further MIME content headers (Content-Disposition, …)
 * @property {string | Uint8Array} [body]
 */

/**
 * Builds the part of a CPIM message before its content: message headers, a
 * blank line, MIME content headers and the blank line that precedes the
 * content. A large content (a file) can follow without being copied:
 * `new Blob([buildCpimHead(p), file])`.
 * @param {CpimParts} p
 * @returns {Uint8Array}
 */
export function buildCpimHead(p) {
  let h = '';
  if (p.from) h += `From: ${formatAddress(p.from)}\r\n`;
  for (const to of p.to === undefined ? [] : Array.isArray(p.to) ? p.to : [p.to]) h += `To: ${formatAddress(to)}\r\n`;
  if (p.dateTime !== undefined) {
    h += `DateTime: ${p.dateTime instanceof Date ? formatDateTime(p.dateTime) : p.dateTime}\r\n`;
  }
  if (p.subject !== undefined) h += `Subject: ${escapeHeaderValue(p.subject)}\r\n`;
  for (const [prefix, uri] of Object.entries(p.ns ?? {})) h += `NS: ${prefix ? prefix + ' ' : ''}<${uri}>\r\n`;
  for (const [n, v] of p.headers ?? []) {
    if (!/^[A-Za-z0-9!#$%&'*+\-^_`|~.]+$/.test(n)) throw new Error(`bad CPIM header name ${JSON.stringify(n)}`);
    h += `${n}: ${escapeHeaderValue(v)}\r\n`;
  }
  h += '\r\n';
  h += `Content-Type: ${p.contentType}\r\n`;
  for (const [n, v] of p.contentHeaders ?? []) {
    if (/[\r\n]/.test(n + v)) throw new Error(`CPIM content header ${n} contains CR or LF`);
    h += `${n}: ${v}\r\n`;
  }
  h += '\r\n';
  return encoder.encode(h);
}

/**
 * Builds a whole CPIM message.
 * @param {CpimParts} p
 * @returns {Uint8Array}
 */
export function buildCpim(p) {
  const head = buildCpimHead(p);
  const body = typeof p.body === 'string' ? encoder.encode(p.body) : (p.body ?? new Uint8Array(0));
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

/** Malformed CPIM. */
export class CpimError extends Error {
  constructor(message) {
    super(message);
    this.name = 'CpimError';
  }
}

/**
 * A parsed CPIM message.
 */
export class CpimMessage {
  constructor() {
    /** @type {CpimHeader[]} */
    this.headers = [];
    /** @type {Record<string, string>} prefix → namespace URI ("" is the default namespace) */
    this.ns = { '': CPIM_HEADERS_NS };
    /** @type {Array<[string, string]>} MIME content headers */
    this.contentHeaders = [];
    /** @type {string} */
    this.contentType = '';
    /** @type {Uint8Array} */
    this.body = new Uint8Array(0);
    /** offset of the content in the parsed bytes */
    this.bodyOffset = 0;
  }

  /**
   * The values of the headers named local in namespace ns (RFC 3862 §3.4:
   * prefixes are local to the message; a header without a prefix is in the
   * default namespace).
   * @param {string} ns
   * @param {string} local
   * @returns {string[]}
   */
  getAll(ns, local) {
    const out = [];
    for (const h of this.headers) {
      const dot = h.name.indexOf('.');
      const prefix = dot < 0 ? '' : h.name.slice(0, dot);
      const name = dot < 0 ? h.name : h.name.slice(dot + 1);
      if (name === local && this.ns[prefix] === ns) out.push(h.value);
    }
    return out;
  }

  /**
   * @param {string} ns
   * @param {string} local
   * @returns {string|undefined}
   */
  get(ns, local) {
    return this.getAll(ns, local)[0];
  }

  /** @returns {CpimAddress|null} */
  get from() {
    const v = this.rawCore('From')[0];
    return v === undefined ? null : parseAddress(v);
  }

  /** @returns {CpimAddress[]} */
  get to() {
    return this.rawCore('To').map(parseAddress).filter((a) => a !== null);
  }

  /** @returns {string|undefined} the DateTime header */
  get dateTime() {
    return this.get(CPIM_HEADERS_NS, 'DateTime');
  }

  /**
   * The content header named name (case-insensitive, MIME rules).
   * @param {string} name
   * @returns {string|undefined}
   */
  contentHeader(name) {
    const lc = name.toLowerCase();
    if (lc === 'content-type') return this.contentType;
    return this.contentHeaders.find(([n]) => n.toLowerCase() === lc)?.[1];
  }

  rawCore(local) {
    const out = [];
    for (const h of this.headers) {
      if (h.name === local && this.ns[''] === CPIM_HEADERS_NS) out.push(h.raw);
      else if (h.name.endsWith('.' + local) && this.ns[h.name.slice(0, -local.length - 1)] === CPIM_HEADERS_NS) out.push(h.raw);
    }
    return out;
  }

  /** @returns {string} the content decoded as UTF-8 */
  get text() {
    return decoder.decode(this.body);
  }
}

function nextLine(b, pos) {
  for (let i = pos; i < b.length; i++) {
    if (b[i] === 10) {
      const end = i > pos && b[i - 1] === 13 ? i - 1 : i;
      return { line: decoder.decode(b.subarray(pos, end)), next: i + 1 };
    }
  }
  return null;
}

/**
 * Parses a CPIM message. Lines end with CRLF (a bare LF is tolerated). Only
 * the head is decoded; the content stays bytes. For a large message it is
 * enough to pass the first bytes, up to the content: bodyOffset tells where
 * the content starts.
 * @param {Uint8Array | string} data
 * @returns {CpimMessage}
 * @throws {CpimError}
 */
export function parseCpim(data) {
  const b = typeof data === 'string' ? encoder.encode(data) : data;
  const m = new CpimMessage();
  let pos = 0;
  // Message headers.
  for (;;) {
    const l = nextLine(b, pos);
    if (!l) throw new CpimError('CPIM message headers are not followed by a blank line');
    // Content headers without the blank line before them (as in the examples
    // of RFC 5438 §7.1.1.3): no CPIM header is named Content-*, so they start
    // the MIME part.
    if (/^content-[A-Za-z-]*:/i.test(l.line)) break;
    pos = l.next;
    if (l.line === '') break;
    const colon = l.line.indexOf(':');
    if (colon <= 0) throw new CpimError(`malformed CPIM header ${JSON.stringify(l.line.slice(0, 80))}`);
    const name = l.line.slice(0, colon);
    if (!/^[A-Za-z0-9!#$%&'*+\-^_`|~.]+$/.test(name)) throw new CpimError(`bad CPIM header name ${JSON.stringify(name)}`);
    let rest = l.line.slice(colon + 1);
    let params = '';
    if (rest.startsWith(';')) {
      const sp = rest.indexOf(' ');
      params = sp < 0 ? rest : rest.slice(0, sp);
      rest = sp < 0 ? '' : rest.slice(sp);
    }
    const raw = rest.replace(/^ /, '');
    const h = { name, params, value: unescapeHeaderValue(raw), raw };
    m.headers.push(h);
    if (name === 'NS' || (name.endsWith('.NS') && m.ns[name.slice(0, -3)] === CPIM_HEADERS_NS)) {
      const nm = /^\s*([^\s<]*)\s*<([^>]*)>\s*$/.exec(raw);
      if (!nm) throw new CpimError(`malformed NS header ${JSON.stringify(raw)}`);
      m.ns[nm[1]] = nm[2];
    }
  }
  // MIME content headers.
  for (;;) {
    const l = nextLine(b, pos);
    if (!l) throw new CpimError('CPIM content headers are not followed by a blank line');
    pos = l.next;
    if (l.line === '') break;
    const colon = l.line.indexOf(':');
    if (colon <= 0) throw new CpimError(`malformed content header ${JSON.stringify(l.line.slice(0, 80))}`);
    const name = l.line.slice(0, colon).trim();
    const value = l.line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'content-type') m.contentType = value;
    else m.contentHeaders.push([name, value]);
  }
  if (!m.contentType) throw new CpimError('CPIM content has no Content-Type (RFC 3862 §2.4)');
  m.bodyOffset = pos;
  m.body = b.subarray(pos);
  return m;
}
