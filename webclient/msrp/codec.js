// MSRP wire codec (RFC 4975 §9, formal syntax; RFC 7977 §4.2, §5.1: over a
// WebSocket every message holds exactly one chunk, in a text or a binary
// frame, and text frames are read as bytes). No I/O here: bytes in, messages
// out, and back.

import { newTransactionId } from './ident.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Largest header section accepted, in bytes. */
export const MAX_HEADER_BYTES = 64 * 1024;
/** RFC 4975 §7.1: non-SEND request bodies are at most 10240 bytes. */
export const MAX_NON_SEND_BODY = 10240;

const IDENT_RE = /^[A-Za-z0-9][A-Za-z0-9.\-+%=]{3,31}$/;
const START_RE = /^MSRP ([A-Za-z0-9][A-Za-z0-9.\-+%=]{3,31}) (?:([A-Z]+)|(\d{3})(?: (.*))?)$/;
const HNAME_RE = /^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*$/;

/** A malformed MSRP message. */
export class MsrpParseError extends Error {
  constructor(message) {
    super(message);
    this.name = 'MsrpParseError';
  }
}

/**
 * Byte-Range header value (RFC 4975 §7.1.1): positions count from 1; end and
 * total are null when written "*".
 * @typedef {{start: number, end: number|null, total: number|null}} ByteRange
 */

/**
 * Status header value of a REPORT (RFC 4975 §7.1.2).
 * @typedef {{namespace: string, code: number, comment: string}} StatusHeader
 */

/**
 * One MSRP request or response: one chunk (RFC 4975 §5.1).
 *
 * `headers` holds every header field other than To-Path, From-Path and
 * Content-Type, in order. `body` is null for a bodiless message (no
 * Content-Type, RFC 4975 §7.1), otherwise the chunk's bytes (possibly empty).
 */
export class MsrpMessage {
  /**
   * @param {object} init
   * @param {string} [init.transactionId] a new random one when omitted
   * @param {string} [init.method]   for a request: SEND, REPORT, AUTH, NICKNAME, …
   * @param {number} [init.status]   for a response: the status code
   * @param {string} [init.comment]  for a response: the reason phrase
   * @param {string[]} init.toPath
   * @param {string[]} init.fromPath
   * @param {Array<[string, string]>} [init.headers]
   * @param {string} [init.contentType]
   * @param {Uint8Array|null} [init.body]
   * @param {'$'|'+'|'#'} [init.flag]
   */
  constructor(init) {
    this.transactionId = init.transactionId ?? newTransactionId();
    this.method = init.method;
    this.status = init.status;
    this.comment = init.comment ?? '';
    this.toPath = init.toPath;
    this.fromPath = init.fromPath;
    /** @type {Array<[string, string]>} */
    this.headers = init.headers ?? [];
    this.contentType = init.contentType;
    /** @type {Uint8Array|null} */
    this.body = init.body ?? null;
    this.flag = init.flag ?? '$';
  }

  /** @returns {boolean} */
  get isRequest() {
    return this.method !== undefined;
  }

  /**
   * The first value of the named header field (case-insensitive), or undefined.
   * @param {string} name
   * @returns {string|undefined}
   */
  get(name) {
    const lc = name.toLowerCase();
    if (lc === 'content-type') return this.contentType;
    for (const [n, v] of this.headers) if (n.toLowerCase() === lc) return v;
    return undefined;
  }

  /**
   * Sets (replaces) a header field.
   * @param {string} name
   * @param {string} value
   */
  set(name, value) {
    const lc = name.toLowerCase();
    const i = this.headers.findIndex(([n]) => n.toLowerCase() === lc);
    if (i >= 0) this.headers[i] = [name, value];
    else this.headers.push([name, value]);
  }

  /** @returns {string|undefined} */
  get messageId() {
    return this.get('Message-ID');
  }

  /** @returns {ByteRange|null} the Byte-Range, or null when absent or malformed */
  get byteRange() {
    const v = this.get('Byte-Range');
    return v === undefined ? null : parseByteRange(v);
  }

  /** @returns {'yes'|'no'} Success-Report, default "no" (RFC 4975 §7.1.1) */
  get successReport() {
    return (this.get('Success-Report') ?? 'no').toLowerCase() === 'yes' ? 'yes' : 'no';
  }

  /** @returns {'yes'|'no'|'partial'} Failure-Report, default "yes" (RFC 4975 §7.1.1) */
  get failureReport() {
    const v = (this.get('Failure-Report') ?? 'yes').toLowerCase();
    return v === 'no' || v === 'partial' ? v : 'yes';
  }

  /** @returns {StatusHeader|null} */
  get statusHeader() {
    const v = this.get('Status');
    return v === undefined ? null : parseStatus(v);
  }
}

/**
 * Parses a Byte-Range value "start-end/total" (RFC 4975 §9).
 * @param {string} v
 * @returns {ByteRange|null}
 */
export function parseByteRange(v) {
  const m = /^(\d{1,15})-(\d{1,15}|\*)\/(\d{1,15}|\*)$/.exec(v.trim());
  if (!m) return null;
  const start = Number(m[1]);
  const end = m[2] === '*' ? null : Number(m[2]);
  const total = m[3] === '*' ? null : Number(m[3]);
  if (start < 1) return null;
  return { start, end, total };
}

/**
 * Formats a Byte-Range value.
 * @param {ByteRange} r
 * @returns {string}
 */
export function formatByteRange(r) {
  return `${r.start}-${r.end ?? '*'}/${r.total ?? '*'}`;
}

/**
 * Parses a Status value "namespace SP status-code [SP comment]" (RFC 4975 §9).
 * @param {string} v
 * @returns {StatusHeader|null}
 */
export function parseStatus(v) {
  const m = /^(\d{3}) (\d{3})(?: (.*))?$/.exec(v.trim());
  if (!m) return null;
  return { namespace: m[1], code: Number(m[2]), comment: m[3] ?? '' };
}

function toBytes(data) {
  if (typeof data === 'string') return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new MsrpParseError('MSRP data must be a string, an ArrayBuffer or a Uint8Array');
}

function indexOfCRLF(b, from) {
  for (let i = from; i + 1 < b.length; i++) if (b[i] === 13 && b[i + 1] === 10) return i;
  return -1;
}

function splitPath(v, name) {
  const uris = v.trim().split(/[ \t]+/).filter(Boolean);
  if (uris.length === 0) throw new MsrpParseError(`empty ${name}`);
  return uris;
}

/**
 * Parses one MSRP message: one WebSocket message (RFC 7977 §5.1).
 * @param {string | ArrayBuffer | Uint8Array} data
 * @returns {MsrpMessage}
 * @throws {MsrpParseError} on anything that does not follow RFC 4975 §9
 */
export function parseMessage(data) {
  const b = toBytes(data);
  const lineEnd = indexOfCRLF(b, 0);
  if (lineEnd < 0) throw new MsrpParseError('no CRLF after the start line');
  const start = decoder.decode(b.subarray(0, lineEnd));
  const sm = START_RE.exec(start);
  if (!sm) throw new MsrpParseError(`bad start line ${JSON.stringify(start.slice(0, 80))}`);
  const tid = sm[1];
  const msg = new MsrpMessage({ transactionId: tid, toPath: [], fromPath: [] });
  if (sm[2] !== undefined) msg.method = sm[2];
  else {
    msg.status = Number(sm[3]);
    msg.comment = sm[4] ?? '';
  }
  const endMarker = '-------' + tid;

  // The end-line closes the message: "-------" tid flag CRLF. Tolerate a
  // missing final CRLF.
  let end = b.length;
  if (end >= 2 && b[end - 2] === 13 && b[end - 1] === 10) end -= 2;
  const endLineLen = endMarker.length + 1;
  if (end - endLineLen < lineEnd + 2) throw new MsrpParseError('message has no end-line');
  const endLineStart = end - endLineLen;
  const endLine = decoder.decode(b.subarray(endLineStart, end));
  if (endLine.slice(0, -1) !== endMarker) throw new MsrpParseError(`end-line does not close transaction ${tid}`);
  const flag = endLine[endLine.length - 1];
  if (flag !== '$' && flag !== '+' && flag !== '#') throw new MsrpParseError(`bad continuation flag ${JSON.stringify(flag)}`);
  msg.flag = /** @type {'$'|'+'|'#'} */ (flag);
  if (endLineStart < 2 || b[endLineStart - 2] !== 13 || b[endLineStart - 1] !== 10) {
    throw new MsrpParseError('end-line is not preceded by CRLF');
  }

  // Header fields, up to the end-line (no body) or a blank line (body).
  let pos = lineEnd + 2;
  let bodyStart = -1;
  const fields = [];
  while (pos < endLineStart) {
    const e = indexOfCRLF(b, pos);
    if (e < 0 || e > endLineStart - 2) throw new MsrpParseError('header field not terminated by CRLF');
    if (e - (lineEnd + 2) > MAX_HEADER_BYTES) throw new MsrpParseError('header section too large');
    if (e === pos) {
      bodyStart = e + 2;
      break;
    }
    const line = decoder.decode(b.subarray(pos, e));
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MsrpParseError(`malformed header field ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon);
    if (!HNAME_RE.test(name)) throw new MsrpParseError(`bad header field name ${JSON.stringify(name.slice(0, 80))}`);
    const value = line.slice(colon + 1).replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
    fields.push([name, value]);
    pos = e + 2;
  }
  if (fields.length < 2 || fields[0][0].toLowerCase() !== 'to-path' || fields[1][0].toLowerCase() !== 'from-path') {
    throw new MsrpParseError('To-Path and From-Path must be the first header fields (RFC 4975 §9)');
  }
  msg.toPath = splitPath(fields[0][1], 'To-Path');
  msg.fromPath = splitPath(fields[1][1], 'From-Path');
  for (const [name, value] of fields.slice(2)) {
    const lc = name.toLowerCase();
    if (lc === 'to-path' || lc === 'from-path') throw new MsrpParseError(`repeated ${name}`);
    if (lc === 'content-type') {
      if (msg.contentType !== undefined) throw new MsrpParseError('repeated Content-Type');
      msg.contentType = value;
    } else {
      msg.headers.push([name, value]);
    }
  }
  if (bodyStart >= 0) {
    if (!msg.isRequest) throw new MsrpParseError('a response has no body (RFC 4975 §9)');
    if (msg.contentType === undefined) throw new MsrpParseError('a request with a body needs Content-Type (RFC 4975 §7.1)');
    if (bodyStart > endLineStart - 2) throw new MsrpParseError('body is not followed by CRLF before the end-line');
    msg.body = b.subarray(bodyStart, endLineStart - 2);
  } else {
    // Bodiless: the end-line follows the last header field directly.
    msg.body = null;
  }
  if (!msg.isRequest && msg.flag !== '$') throw new MsrpParseError('a response always ends with "$" (RFC 4975 §7.2)');
  const br = msg.get('Byte-Range');
  if (br !== undefined && parseByteRange(br) === null) throw new MsrpParseError(`bad Byte-Range ${JSON.stringify(br)}`);
  if (msg.isRequest && msg.method !== 'SEND' && msg.body && msg.body.length > MAX_NON_SEND_BODY) {
    throw new MsrpParseError(`${msg.method} body larger than ${MAX_NON_SEND_BODY} bytes (RFC 4975 §7.1)`);
  }
  return msg;
}

function contains(hay, needle) {
  const n = needle.length;
  const first = needle[0];
  outer: for (let i = hay.indexOf(first); i >= 0 && i + n <= hay.length; i = hay.indexOf(first, i + 1)) {
    for (let j = 1; j < n; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/**
 * Serialises msg as one MSRP chunk. If the body contains the end-line of the
 * transaction, a request gets a new transaction id first (RFC 4975 §7.1), so
 * msg.transactionId may change.
 * @param {MsrpMessage} msg
 * @returns {Uint8Array}
 */
export function serializeMessage(msg) {
  if (!IDENT_RE.test(msg.transactionId)) throw new Error(`bad transaction id ${JSON.stringify(msg.transactionId)}`);
  if (!msg.toPath?.length || !msg.fromPath?.length) throw new Error('To-Path and From-Path are required');
  const body = msg.body;
  if (body) {
    for (let tries = 0; contains(body, encoder.encode('-------' + msg.transactionId)); tries++) {
      if (!msg.isRequest || tries > 8) throw new Error('body contains the end-line');
      msg.transactionId = newTransactionId();
    }
  }
  let head = msg.isRequest
    ? `MSRP ${msg.transactionId} ${msg.method}\r\n`
    : `MSRP ${msg.transactionId} ${msg.status}${msg.comment ? ' ' + msg.comment : ''}\r\n`;
  head += `To-Path: ${msg.toPath.join(' ')}\r\nFrom-Path: ${msg.fromPath.join(' ')}\r\n`;
  for (const [n, v] of msg.headers) {
    if (/[\r\n]/.test(n + v)) throw new Error(`header field ${n} contains CR or LF`);
    head += `${n}: ${v}\r\n`;
  }
  const tail = `-------${msg.transactionId}${msg.isRequest ? msg.flag : '$'}\r\n`;
  if (body === null || body === undefined) {
    return encoder.encode(head + tail);
  }
  if (!msg.contentType) throw new Error('a request with a body needs Content-Type');
  head += `Content-Type: ${msg.contentType}\r\n\r\n`;
  const h = encoder.encode(head);
  const t = encoder.encode('\r\n' + tail);
  const out = new Uint8Array(h.length + body.length + t.length);
  out.set(h, 0);
  out.set(body, h.length);
  out.set(t, h.length + body.length);
  return out;
}

/**
 * Builds the response to request (RFC 4975 §7.2): To-Path is the first
 * From-Path URI for SEND, the whole From-Path otherwise; From-Path is self.
 * @param {MsrpMessage} request
 * @param {number} status
 * @param {string} comment
 * @param {string} self the URI that identifies us in the session
 * @returns {MsrpMessage}
 */
export function responseTo(request, status, comment, self) {
  return new MsrpMessage({
    transactionId: request.transactionId,
    status,
    comment,
    toPath: request.method === 'SEND' ? [request.fromPath[0]] : [...request.fromPath],
    fromPath: [self],
  });
}
