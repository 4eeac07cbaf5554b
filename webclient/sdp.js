// SDP for MSRP sessions (RFC 4975 §8, RFC 7977 §5.2.2, RFC 6135 §4.2) and file
// transfer (RFC 5547 §6, §8), as a browser behind an MSRP WebSocket relay
// writes and reads it. There is no RTCPeerConnection: this is plain text.

const MSRP_PROTOS = new Set(['TCP/MSRP', 'TCP/TLS/MSRP', 'TCP/WS/MSRP', 'TCP/WSS/MSRP']);

/**
 * RFC 5547 §5, §6 file selector.
 * @typedef {object} FileSelector
 * @property {string} [name]
 * @property {string} [type]  media type with its parameters, as in Content-Type
 * @property {number} [size]
 * @property {Array<{algorithm: string, value: string}>} [hashes] value: upper-case hex bytes joined by ":"
 */

/**
 * The MSRP media description of an SDP body, as the library uses it.
 * @typedef {object} MsrpMedia
 * @property {number} index        index of the m= line among all m= lines
 * @property {number} port
 * @property {string} proto
 * @property {string} connection   c= address (media level, else session level), or ""
 * @property {string[]} path       a=path URIs (RFC 4975 §8.2)
 * @property {string[]} acceptTypes
 * @property {string[]} acceptWrappedTypes
 * @property {'active'|'passive'|'actpass'|undefined} setup (RFC 6135 §4.2; "holdconn" reads as absent)
 * @property {'sendrecv'|'sendonly'|'recvonly'|'inactive'} direction media level, else session level
 * @property {number|undefined} maxSize
 * @property {string[]|null} chatroom  RFC 7701 §8 tokens, null when absent
 * @property {FileSelector|null} fileSelector RFC 5547; {} when the attribute has no selector
 * @property {string|undefined} fileTransferId
 * @property {string|undefined} fileDisposition
 * @property {string|undefined} fileDate
 * @property {{start: number, stop: number|null}|undefined} fileRange
 * @property {Array<[string, string|null]>} attributes every a= line of the media, in order
 */

/**
 * A parsed SDP body: its session-level lines and media descriptions.
 * @typedef {object} ParsedSdp
 * @property {string} origin           the o= line value
 * @property {string} connection       session-level c= address, or ""
 * @property {Array<[string, string|null]>} attributes session-level a= lines
 * @property {Array<{media: string, port: number, proto: string, fmts: string[], connection: string, attributes: Array<[string, string|null]>}>} media
 */

/**
 * Parses an SDP body (RFC 8866 §5) leniently: CRLF or LF line ends, unknown
 * lines kept or skipped.
 * @param {string} text
 * @returns {ParsedSdp}
 * @throws {Error} when there is no v= line or an m= line is malformed
 */
export function parseSdp(text) {
  const lines = String(text).split(/\r?\n/).filter((l) => l.length > 0);
  if (!lines.length || !lines[0].startsWith('v=')) throw new Error('SDP does not start with v=');
  /** @type {ParsedSdp} */
  const sdp = { origin: '', connection: '', attributes: [], media: [] };
  let cur = null;
  for (const line of lines) {
    if (line[1] !== '=') throw new Error(`malformed SDP line ${JSON.stringify(line.slice(0, 60))}`);
    const type = line[0];
    const value = line.slice(2);
    if (type === 'm') {
      const parts = value.trim().split(/\s+/);
      if (parts.length < 3 || !/^\d+(\/\d+)?$/.test(parts[1])) throw new Error(`malformed m= line ${JSON.stringify(value)}`);
      cur = { media: parts[0], port: Number(parts[1].split('/')[0]), proto: parts[2], fmts: parts.slice(3), connection: '', attributes: [] };
      sdp.media.push(cur);
    } else if (type === 'c') {
      const addr = value.trim().split(/\s+/)[2] ?? '';
      if (cur) cur.connection = addr;
      else sdp.connection = addr;
    } else if (type === 'o' && !cur) {
      sdp.origin = value;
    } else if (type === 'a') {
      const colon = value.indexOf(':');
      const attr = /** @type {[string, string|null]} */ (colon < 0 ? [value.trim(), null] : [value.slice(0, colon).trim(), value.slice(colon + 1).trim()]);
      (cur ? cur.attributes : sdp.attributes).push(attr);
    }
  }
  return sdp;
}

const DIRECTIONS = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

/**
 * Finds the MSRP media descriptions (m=message with an MSRP proto, RFC 4975
 * §8.1; RFC 7977 §5.2.2; the legacy TCP/WS(S)/MSRP of early drafts is read
 * too) of an SDP body.
 * @param {string} text
 * @returns {MsrpMedia[]}
 */
export function msrpMedia(text) {
  const sdp = parseSdp(text);
  const sessionDir = DIRECTIONS.find((d) => sdp.attributes.some(([n]) => n === d));
  const out = [];
  sdp.media.forEach((m, index) => {
    if (m.media !== 'message' || !MSRP_PROTOS.has(m.proto.toUpperCase())) return;
    const get = (name) => m.attributes.find(([n]) => n === name)?.[1] ?? undefined;
    const has = (name) => m.attributes.some(([n]) => n === name);
    const list = (v) => (v ?? '').split(/\s+/).filter(Boolean);
    const setup = get('setup');
    const fs = m.attributes.find(([n]) => n === 'file-selector');
    const fr = get('file-range');
    const frm = fr ? /^(\d+)-(\d+|\*)$/.exec(fr) : null;
    const ms = get('max-size');
    const cr = m.attributes.find(([n]) => n === 'chatroom');
    out.push({
      index,
      port: m.port,
      proto: m.proto,
      connection: m.connection || sdp.connection,
      path: list(get('path')),
      acceptTypes: list(get('accept-types')),
      acceptWrappedTypes: list(get('accept-wrapped-types')),
      setup: setup === 'active' || setup === 'passive' || setup === 'actpass' ? setup : undefined,
      direction: DIRECTIONS.find((d) => has(d)) ?? sessionDir ?? 'sendrecv',
      maxSize: ms && /^\d+$/.test(ms) ? Number(ms) : undefined,
      chatroom: cr ? list(cr[1] ?? '') : null,
      fileSelector: fs ? parseFileSelector(fs[1] ?? '') : null,
      fileTransferId: get('file-transfer-id'),
      fileDisposition: get('file-disposition'),
      fileDate: get('file-date'),
      fileRange: frm ? { start: Number(frm[1]), stop: frm[2] === '*' ? null : Number(frm[2]) } : undefined,
      attributes: m.attributes,
    });
  });
  return out;
}

// RFC 5547 §6: in the name selector, NUL, CR, LF, '"' and '%' must be
// percent-encoded; so are '/' and '\', which name directories somewhere.
function encodeFileName(name) {
  return String(name).replace(/[\u0000\r\n"%/\\]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

function decodePercent(s) {
  const bytes = [];
  const enc = new TextEncoder();
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...enc.encode(s[i]));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/**
 * Formats the value of a=file-selector (RFC 5547 §6).
 * @param {FileSelector} s
 * @returns {string}
 */
export function formatFileSelector(s) {
  const parts = [];
  if (s.name !== undefined) parts.push(`name:"${encodeFileName(s.name)}"`);
  if (s.type) {
    // ft-parameter = attribute "=" DQUOTE value-string DQUOTE
    const [base, ...params] = s.type.split(';').map((x) => x.trim()).filter(Boolean);
    let t = base;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const v = p.slice(eq + 1).replace(/^"(.*)"$/, '$1');
      t += `;${p.slice(0, eq)}="${encodeFileName(v)}"`;
    }
    parts.push(`type:${t}`);
  }
  if (s.size !== undefined) parts.push(`size:${s.size}`);
  for (const h of s.hashes ?? []) parts.push(`hash:${h.algorithm}:${h.value}`);
  return parts.join(' ');
}

/**
 * Parses the value of a=file-selector (RFC 5547 §6).
 * @param {string} v
 * @returns {FileSelector}
 */
export function parseFileSelector(v) {
  /** @type {FileSelector} */
  const s = {};
  // Split on spaces outside double quotes.
  const tokens = [];
  let cur = '';
  let q = false;
  for (const c of v) {
    if (c === '"') q = !q;
    if (c === ' ' && !q) {
      if (cur) tokens.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur) tokens.push(cur);
  for (const t of tokens) {
    if (t.startsWith('name:')) {
      s.name = decodePercent(t.slice(5).replace(/^"(.*)"$/, '$1'));
    } else if (t.startsWith('type:')) {
      s.type = t.slice(5).replace(/="([^"]*)"/g, (_, x) => `="${decodePercent(x)}"`);
    } else if (t.startsWith('size:') && /^\d+$/.test(t.slice(5))) {
      s.size = Number(t.slice(5));
    } else if (t.startsWith('hash:')) {
      const rest = t.slice(5);
      const c = rest.indexOf(':');
      if (c > 0) (s.hashes ??= []).push({ algorithm: rest.slice(0, c).toLowerCase(), value: rest.slice(c + 1).toUpperCase() });
    }
  }
  return s;
}

/**
 * What the library puts in its MSRP media description.
 * @typedef {object} LocalMedia
 * @property {string[]} path       relay URIs (reversed Use-Path) then our own URI (RFC 4976 §5.1)
 * @property {string[]} acceptTypes
 * @property {string[]} [acceptWrappedTypes]
 * @property {'active'|'actpass'|'passive'} setup
 * @property {'sendrecv'|'sendonly'|'recvonly'} [direction]
 * @property {number} [maxSize]
 * @property {string[]|null} [chatroom]
 * @property {FileSelector} [fileSelector]
 * @property {string} [fileTransferId]
 * @property {string} [fileDisposition]
 * @property {string} [fileDate]
 * @property {number} [port]       0 to refuse the stream (RFC 3264 §6)
 */

function addrType(host) {
  return host.includes(':') ? 'IP6' : 'IP4';
}

/**
 * Builds an SDP body with one MSRP media description (RFC 4975 §8; RFC 7977
 * §5.2.2: proto TCP/TLS/MSRP even over WebSocket; RFC 6135 §4.2: explicit
 * a=setup, port 9 since nobody connects to a browser).
 * @param {LocalMedia} m
 * @param {{sessionId: string, version: number, user?: string}} origin
 * @returns {string}
 */
export function buildMsrpSdp(m, origin) {
  const first = m.path[0];
  const hm = /^msrps?:\/\/(?:[^@/;]*@)?(\[[^\]]+\]|[^:/;]+)/i.exec(first ?? '');
  const host = hm ? hm[1].replace(/^\[|\]$/g, '') : '0.0.0.0';
  const l = [];
  l.push('v=0');
  l.push(`o=${origin.user ?? '-'} ${origin.sessionId} ${origin.version} IN ${addrType(host)} ${host}`);
  l.push('s=-');
  l.push(`c=IN ${addrType(host)} ${host}`);
  l.push('t=0 0');
  l.push(`m=message ${m.port ?? 9} TCP/TLS/MSRP *`);
  l.push(`a=accept-types:${m.acceptTypes.join(' ')}`);
  if (m.acceptWrappedTypes?.length) l.push(`a=accept-wrapped-types:${m.acceptWrappedTypes.join(' ')}`);
  l.push(`a=path:${m.path.join(' ')}`);
  l.push(`a=setup:${m.setup}`);
  if (m.direction && m.direction !== 'sendrecv') l.push(`a=${m.direction}`);
  if (m.maxSize !== undefined) l.push(`a=max-size:${m.maxSize}`);
  if (m.chatroom) l.push(m.chatroom.length ? `a=chatroom:${m.chatroom.join(' ')}` : 'a=chatroom');
  if (m.fileSelector) l.push(`a=file-selector:${formatFileSelector(m.fileSelector)}`.replace(/:$/, ''));
  if (m.fileTransferId) l.push(`a=file-transfer-id:${m.fileTransferId}`);
  if (m.fileDisposition) l.push(`a=file-disposition:${m.fileDisposition}`);
  if (m.fileDate) l.push(`a=file-date:${m.fileDate}`);
  return l.join('\r\n') + '\r\n';
}

/**
 * Whether a media type is in a list of format entries (RFC 4975 §8.6: "*"
 * matches anything, "type/*" any subtype; parameters are ignored).
 * @param {string[]} list
 * @param {string} type
 * @returns {boolean}
 */
export function acceptsType(list, type) {
  const base = type.split(';')[0].trim().toLowerCase();
  const major = base.split('/')[0];
  return list.some((f) => {
    const e = f.split(';')[0].trim().toLowerCase();
    return e === '*' || e === base || e === `${major}/*`;
  });
}

/**
 * RFC 6135 §4.2 answer to the offer's a=setup: an offer that may be dialled
 * (actpass, or none: the RFC 4975 model where the offerer connects) … we are
 * active after actpass; passive after active; active after passive. Without
 * a=setup the offerer is active (RFC 4975 §8.5), so we are passive.
 * @param {'active'|'passive'|'actpass'|undefined} offered
 * @returns {'active'|'passive'}
 */
export function answerSetup(offered) {
  if (offered === 'active' || offered === undefined) return 'passive';
  return 'active';
}

/**
 * Whether the offerer is the active party given the answer's a=setup.
 * @param {'active'|'passive'|'actpass'|undefined} answered
 * @returns {boolean}
 */
export function offererIsActive(answered) {
  return answered !== 'active';
}
