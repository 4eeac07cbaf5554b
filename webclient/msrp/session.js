// One MSRP session of an endpoint behind a relay (RFC 4975 §7, RFC 4976 §5.1,
// RFC 7977 §5): sending messages in chunks with Byte-Range, following them by
// transaction responses and Success-/Failure-Reports, aborting them with "#",
// and receiving messages from chunks in any order.
//
// Paths: our To-Path is the relay's Use-Path followed by the peer's SDP path;
// our From-Path is our own URI (RFC 4976 §5.1).

import { MsrpMessage, formatByteRange, responseTo } from './codec.js';
import { newMessageId } from './ident.js';
import { MsrpError } from './connection.js';
import { Reassembler, RangeSet } from './reassembly.js';
import { acceptsType } from '../sdp.js';
import { later, deferred } from '../util.js';

const encoder = new TextEncoder();

/** Default chunk size: 64 KiB (RFC 4975 §7.1.1 allows any size when interruptible). */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;

/**
 * What a session needs from its connection (MsrpConnection implements it).
 * @typedef {object} ConnectionLike
 * @property {(msg: MsrpMessage) => void} send
 * @property {(msg: MsrpMessage) => Promise<MsrpMessage>} request
 * @property {(msg: MsrpMessage) => void} trySend
 * @property {() => Promise<void>} waitWritable
 * @property {(s: any) => void} register
 * @property {(s: any) => void} unregister
 */

/**
 * Options of a session.
 * @typedef {object} MsrpSessionOptions
 * @property {ConnectionLike} connection
 * @property {string} localUri         our URI (last of our SDP path)
 * @property {string[]} usePath        the relay's Use-Path
 * @property {string[]} [remotePath]   the peer's SDP path, once known
 * @property {string[]} [acceptTypes]  what we accept (415 for anything else); everything when omitted
 * @property {number} [maxSize]        largest incoming message; 413 beyond
 * @property {number} [chunkSize]      bytes per outgoing chunk
 * @property {number} [window]         outgoing chunks awaiting their response at once (default 16)
 * @property {number} [reportTimeout]  ms to wait for a success report after the last one (default 120 s; RFC 4975 §7.1.1)
 * @property {number} [reportEvery]    bytes between incremental success reports we send (default 256 KiB)
 */

/**
 * A message being sent. Events: "progress" (detail {acked, sent, total}).
 * `done` resolves when the message is delivered: covered by success reports
 * when they were requested, else answered 200 chunk by chunk; it rejects with
 * an MsrpError carrying the failure's status code.
 */
export class OutgoingMessage extends EventTarget {
  constructor(session, messageId, total, successReport) {
    super();
    this.session = session;
    this.messageId = messageId;
    this.total = total;
    this.successReport = successReport;
    this.sent = 0;
    this.acked = new RangeSet();
    /** @type {'sending'|'sent'|'delivered'|'failed'|'aborted'} */
    this.state = 'sending';
    this.aborted = false;
    const d = deferred();
    this.done = d.promise;
    this.resolve = d.resolve;
    this.rejectDone = d.reject;
    this.done.catch(() => {});
    this.reportTimer = undefined;
  }

  /** Stops sending: the next chunk carries "#" (RFC 4975 §7.1). */
  abort() {
    if (this.state !== 'sending' && this.state !== 'sent') return;
    this.aborted = true;
    if (this.state === 'sent') this.fail(new MsrpError('aborted', 0), 'aborted');
  }

  progress() {
    this.dispatchEvent(new CustomEvent('progress', { detail: { acked: this.acked.size, sent: this.sent, total: this.total } }));
  }

  finish() {
    if (this.state === 'delivered' || this.state === 'failed' || this.state === 'aborted') return;
    clearTimeout(this.reportTimer);
    this.state = 'delivered';
    this.session.outgoing.delete(this.messageId);
    this.resolve();
  }

  /**
   * @param {Error} err
   * @param {'failed'|'aborted'} [state]
   */
  fail(err, state = 'failed') {
    if (this.state === 'delivered' || this.state === 'failed' || this.state === 'aborted') return;
    clearTimeout(this.reportTimer);
    this.state = state;
    this.session.outgoing.delete(this.messageId);
    this.rejectDone(err);
  }

  armReportTimer() {
    clearTimeout(this.reportTimer);
    if (!this.successReport || this.state === 'delivered') return;
    const ms = this.session.reportTimeout;
    this.reportTimer = later(() => {
      this.fail(new MsrpError(`no delivery report for message ${this.messageId} within ${ms / 1000} s`, 408));
    }, ms);
  }
}

/**
 * A message being received.
 */
class IncomingMessage {
  constructor(messageId, contentType, headers, maxSize) {
    this.messageId = messageId;
    this.contentType = contentType;
    this.headers = headers;
    this.r = new Reassembler({ maxSize });
    this.reported = 0;
    this.stopped = false;
    this.fromPath = [];
    this.touched = Date.now();
  }
}

/**
 * An MSRP session. Events:
 * - "message": a complete message; detail {messageId, contentType, headers, size, bytes(), blob()}
 * - "incoming": the first chunk of a new message; detail {messageId, contentType, headers, total}
 * - "progress": detail {messageId, received, total} for incoming messages
 * - "aborted": an incoming message was aborted or refused; detail {messageId, reason}
 * - "request": a request other than SEND/REPORT (e.g. from a chat room); detail {message, respond(code, comment)}
 * - "closed": detail {error} — the session or its connection ended
 */
export class MsrpSession extends EventTarget {
  /** @param {MsrpSessionOptions} opts */
  constructor(opts) {
    super();
    this.connection = opts.connection;
    this.localUri = opts.localUri;
    this.usePath = opts.usePath;
    this.remotePath = opts.remotePath ?? [];
    this.acceptTypes = opts.acceptTypes;
    this.maxSize = opts.maxSize ?? 1024 * 1024 * 1024;
    this.chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.window = opts.window ?? 16;
    this.reportTimeout = opts.reportTimeout ?? 120000;
    this.reportEvery = opts.reportEvery ?? 256 * 1024;
    /** @type {Map<string, OutgoingMessage>} */
    this.outgoing = new Map();
    /** @type {Map<string, IncomingMessage>} */
    this.incoming = new Map();
    /** Message-IDs we refused with 413 (RFC 4975 §10.5) */
    this.refused = new Set();
    this.closed = false;
    this.sendQueue = Promise.resolve();
    this.connection.register(this);
  }

  /** @returns {string[]} To-Path of our requests */
  get toPath() {
    return [...this.usePath, ...this.remotePath];
  }

  /** @returns {string[]} our SDP path: the Use-Path reversed, then our URI (RFC 4976 §5.1) */
  get sdpPath() {
    return [...this.usePath].reverse().concat(this.localUri);
  }

  /** @param {string[]} path the peer's SDP path */
  setRemotePath(path) {
    this.remotePath = path;
  }

  /**
   * Sends a bodiless SEND (RFC 4975 §7.1, §5.4: the active endpoint's first
   * request; RFC 7977 §6: a keepalive).
   * @returns {Promise<void>} resolves on the next hop's 200
   */
  async sendBodiless() {
    this.checkOpen();
    const msg = new MsrpMessage({
      method: 'SEND',
      toPath: this.toPath,
      fromPath: [this.localUri],
      headers: [['Message-ID', newMessageId()], ['Byte-Range', '1-0/0']],
    });
    const res = await this.connection.request(msg);
    if (res.status !== 200) throw new MsrpError(`bodiless SEND answered ${res.status} ${res.comment}`, res.status);
  }

  /**
   * Sends a request other than SEND, e.g. NICKNAME (RFC 7701 §7.1), and
   * resolves with its response.
   * @param {string} method
   * @param {Array<[string, string]>} headers
   * @returns {Promise<MsrpMessage>}
   */
  requestMethod(method, headers) {
    this.checkOpen();
    return this.connection.request(new MsrpMessage({ method, toPath: this.toPath, fromPath: [this.localUri], headers }));
  }

  checkOpen() {
    if (this.closed) throw new MsrpError('MSRP session is closed', 481);
    if (!this.remotePath.length) throw new MsrpError('MSRP session has no peer path yet');
  }

  /**
   * Sends a message, in chunks of chunkSize bytes (RFC 4975 §7.1.1). A Blob is
   * read slice by slice, never as a whole. Messages are sent one after the
   * other, in call order.
   * @param {string | Uint8Array | Blob} content
   * @param {string} contentType
   * @param {object} [opts]
   * @param {boolean} [opts.successReport] request success reports (default true)
   * @param {'yes'|'no'|'partial'} [opts.failureReport] default "yes"
   * @param {Array<[string, string]>} [opts.headers] MIME headers such as Content-Disposition
   * @param {string} [opts.messageId]
   * @returns {OutgoingMessage}
   */
  sendMessage(content, contentType, opts = {}) {
    this.checkOpen();
    const src = typeof content === 'string' ? encoder.encode(content) : content;
    const total = src instanceof Uint8Array ? src.length : src.size;
    const successReport = opts.successReport ?? true;
    const out = new OutgoingMessage(this, opts.messageId ?? newMessageId(), total, successReport);
    this.outgoing.set(out.messageId, out);
    const run = () => this.transmit(out, src, contentType, opts).catch((e) => out.fail(e instanceof MsrpError ? e : new MsrpError(e.message)));
    this.sendQueue = this.sendQueue.then(run, run);
    return out;
  }

  async transmit(out, src, contentType, opts) {
    const fr = opts.failureReport ?? 'yes';
    const headers = opts.headers ?? [];
    const total = out.total;
    let pos = 0;
    let inflight = 0;
    let wake = null;
    const settled = () => {
      inflight--;
      if (wake) { const w = wake; wake = null; w(); }
    };
    let first = true;
    while (first || pos < total) {
      first = false;
      if (out.state === 'failed' || out.state === 'aborted') return;
      if (this.closed) throw new MsrpError('MSRP session closed', 481);
      while (inflight >= this.window) await new Promise((r) => { wake = r; });
      if (out.state === 'failed' || out.state === 'aborted') return;
      await this.connection.waitWritable();
      if (out.aborted) {
        // RFC 4975 §7.1: an aborted message ends with a chunk flagged "#".
        const msg = this.chunk(out, new Uint8Array(0), pos + 1, pos, total, '#', contentType, headers, fr);
        this.connection.trySend(msg);
        out.fail(new MsrpError('aborted', 0), 'aborted');
        return;
      }
      const end = Math.min(total, pos + this.chunkSize);
      const data = src instanceof Uint8Array ? src.subarray(pos, end) : new Uint8Array(await src.slice(pos, end).arrayBuffer());
      const last = end >= total;
      const msg = this.chunk(out, data, pos + 1, end, total, last ? '$' : '+', contentType, headers, fr);
      const len = data.length;
      pos = end;
      if (fr === 'no' || fr === 'partial') {
        this.connection.send(msg);
        out.sent += len;
        out.progress();
        if (fr === 'partial') {
          // RFC 4975 §7.1.1: only a failure is answered; watch for it without a timer.
          inflight++;
          this.connection.request(msg).then((res) => {
            if (res.status !== 200) out.fail(new MsrpError(`${res.status} ${res.comment}`.trim(), res.status));
          }, () => {}).finally(settled);
        }
      } else {
        inflight++;
        this.connection.request(msg).then((res) => {
          if (res.status === 200) {
            out.sent += len;
            out.progress();
            if (out.sent >= total && out.state === 'sending') {
              out.state = 'sent';
              if (!out.successReport) out.finish();
              else out.armReportTimer();
            }
          } else {
            // RFC 4975 §10.5: after 413 no further chunk of the message.
            out.fail(new MsrpError(`${res.status} ${res.comment}`.trim(), res.status));
          }
        }, (e) => out.fail(e)).finally(settled);
      }
    }
    if (fr !== 'yes' && out.state === 'sending') {
      out.state = 'sent';
      if (!out.successReport) out.finish();
      else out.armReportTimer();
    }
  }

  chunk(out, data, start, end, total, flag, contentType, headers, fr) {
    const h = [
      ['Message-ID', out.messageId],
      ['Success-Report', out.successReport ? 'yes' : 'no'],
    ];
    if (fr !== 'yes') h.push(['Failure-Report', fr]);
    h.push(['Byte-Range', formatByteRange({ start, end, total })]);
    for (const x of headers) h.push(x);
    return new MsrpMessage({ method: 'SEND', toPath: this.toPath, fromPath: [this.localUri], headers: h, contentType, body: data, flag });
  }

  /**
   * Refuses the rest of an incoming message: its next chunks are answered 413
   * (RFC 4975 §10.5, RFC 5547 §8.4).
   * @param {string} messageId
   */
  refuse(messageId) {
    this.refused.add(messageId);
    const m = this.incoming.get(messageId);
    if (m) {
      this.incoming.delete(messageId);
      this.dispatchEvent(new CustomEvent('aborted', { detail: { messageId, reason: 'refused' } }));
    }
  }

  /**
   * Handles a request addressed to this session (called by the connection).
   * @param {MsrpMessage} msg
   */
  handleRequest(msg) {
    if (this.closed) return;
    switch (msg.method) {
      case 'SEND':
        this.onSend(msg);
        return;
      case 'REPORT':
        this.onReport(msg); // RFC 4975 §7.1.2: never answered
        return;
      default: {
        let answered = false;
        const respond = (code, comment) => {
          if (answered) return;
          answered = true;
          this.connection.trySend(responseTo(msg, code, comment, this.localUri));
        };
        this.dispatchEvent(new CustomEvent('request', { detail: { message: msg, respond } }));
        respond(501, 'Not Implemented');
      }
    }
  }

  respond(msg, code, comment) {
    const fr = msg.failureReport;
    // RFC 4975 §7.2, §7.1.4: "no" gets no response; "partial" only errors.
    if (fr === 'no' || (fr === 'partial' && code === 200)) return;
    this.connection.trySend(responseTo(msg, code, comment, this.localUri));
  }

  onSend(msg) {
    if (msg.body === null) {
      // Bodiless SEND: the active side's first request or a keepalive (RFC 7977 §6).
      this.respond(msg, 200, 'OK');
      return;
    }
    const mid = msg.messageId;
    if (!mid) {
      this.respond(msg, 400, 'Message-ID required');
      return;
    }
    if (this.refused.has(mid)) {
      this.respond(msg, 413, 'Message refused');
      return;
    }
    const br = msg.byteRange ?? { start: 1, end: null, total: null };
    let m = this.incoming.get(mid);
    if (!m) {
      if (msg.flag === '#') {
        this.respond(msg, 200, 'OK');
        return;
      }
      const ct = msg.contentType ?? '';
      if (this.acceptTypes && !acceptsType(this.acceptTypes, ct)) {
        // RFC 4975 §7.3.1: unsupported media type.
        this.respond(msg, 415, 'Unsupported Media Type');
        return;
      }
      if (br.total !== null && br.total > this.maxSize) {
        this.refused.add(mid);
        this.respond(msg, 413, 'Message too large');
        this.dispatchEvent(new CustomEvent('aborted', { detail: { messageId: mid, reason: 'too large' } }));
        return;
      }
      m = new IncomingMessage(mid, ct, msg.headers.filter(([n]) => /^content-/i.test(n)), this.maxSize);
      this.incoming.set(mid, m);
      this.sweep();
      this.dispatchEvent(new CustomEvent('incoming', { detail: { messageId: mid, contentType: ct, headers: m.headers, total: br.total } }));
      if (this.refused.has(mid)) {
        this.respond(msg, 413, 'Message refused');
        return;
      }
    }
    m.touched = Date.now();
    m.fromPath = msg.fromPath;
    if (msg.flag === '#') {
      this.incoming.delete(mid);
      this.respond(msg, 200, 'OK');
      this.dispatchEvent(new CustomEvent('aborted', { detail: { messageId: mid, reason: 'aborted by the sender' } }));
      return;
    }
    const res = m.r.add(br.start, msg.body, msg.flag === '$' ? '$' : '+', br.total);
    if (!res.ok) {
      this.incoming.delete(mid);
      this.refused.add(mid);
      this.respond(msg, 413, res.reason);
      this.dispatchEvent(new CustomEvent('aborted', { detail: { messageId: mid, reason: res.reason } }));
      return;
    }
    this.respond(msg, 200, 'OK');
    const complete = m.r.complete;
    this.dispatchEvent(new CustomEvent('progress', { detail: { messageId: mid, received: m.r.received, total: m.r.total } }));
    // RFC 4975 §7.1.3: success reports cover every byte received; we send
    // them every reportEvery bytes and at the end.
    if (msg.successReport === 'yes' && (complete || m.r.received - m.reported >= this.reportEvery)) {
      m.reported = m.r.received;
      for (const [s, e] of complete ? [[1, m.r.total ?? 0]] : m.r.ranges()) {
        this.sendReport(mid, msg.fromPath, { start: s, end: e, total: m.r.total }, 200, 'OK');
      }
    }
    if (complete) {
      this.incoming.delete(mid);
      const r = m.r;
      const type = m.contentType;
      this.dispatchEvent(new CustomEvent('message', {
        detail: {
          messageId: mid,
          contentType: type,
          headers: m.headers,
          size: r.total ?? 0,
          bytes: () => r.bytes(),
          blob: () => r.blob(type.split(';')[0]),
        },
      }));
    }
  }

  /**
   * Sends a REPORT (RFC 4975 §7.1.2, §7.1.3): To-Path is the SEND's From-Path.
   * @param {string} messageId
   * @param {string[]} toPath
   * @param {{start: number, end: number|null, total: number|null}} range
   * @param {number} code
   * @param {string} comment
   */
  sendReport(messageId, toPath, range, code, comment) {
    const msg = new MsrpMessage({
      method: 'REPORT',
      toPath,
      fromPath: [this.localUri],
      headers: [
        ['Message-ID', messageId],
        ['Byte-Range', formatByteRange(range)],
        ['Status', `000 ${code} ${comment}`],
      ],
    });
    this.connection.trySend(msg);
  }

  onReport(msg) {
    const out = this.outgoing.get(msg.messageId ?? '');
    if (!out) return; // RFC 4975 §7.1.2: unknown Message-ID, ignore.
    const st = msg.statusHeader;
    if (!st) return;
    if (st.namespace === '000' && st.code === 200) {
      const br = msg.byteRange;
      if (br) out.acked.add(br.start, br.end ?? br.total ?? out.total);
      else out.acked.add(1, out.total);
      out.progress();
      if (out.acked.covers(out.total)) out.finish();
      else out.armReportTimer();
    } else {
      // RFC 4975 §7.3.2: a failure report means the message failed.
      out.fail(new MsrpError(`${st.code} ${st.comment}`.trim(), st.code));
    }
  }

  // Drops incoming messages whose sender went quiet for 5 minutes.
  sweep() {
    const limit = Date.now() - 5 * 60 * 1000;
    for (const [mid, m] of this.incoming) {
      if (m.touched < limit) {
        this.incoming.delete(mid);
        this.dispatchEvent(new CustomEvent('aborted', { detail: { messageId: mid, reason: 'timed out' } }));
      }
    }
  }

  /** Called by the connection when it closes. @param {Error} err */
  connectionLost(err) {
    this.end(err);
  }

  /** Ends the session: pending messages fail, requests are no longer accepted. */
  close() {
    this.end(null);
  }

  /**
   * Ends the session once the messages that were sent in full have their
   * success reports, or after ms. The signalling may end (a BYE overtaking
   * the last REPORT on the other WebSocket) while reports are on their way.
   * @param {number} [ms]
   */
  closeWhenSettled(ms = 3000) {
    const waiting = [...this.outgoing.values()].filter((o) => o.state === 'sent');
    if (!waiting.length || this.closed) {
      this.close();
      return;
    }
    for (const o of this.outgoing.values()) if (o.state === 'sending') o.fail(new MsrpError('MSRP session closed', 481));
    const t = later(() => this.close(), ms);
    Promise.allSettled(waiting.map((o) => o.done)).then(() => {
      clearTimeout(t);
      this.close();
    });
  }

  end(err) {
    if (this.closed) return;
    this.closed = true;
    this.connection.unregister(this);
    const e = err ?? new MsrpError('MSRP session closed', 481);
    for (const out of [...this.outgoing.values()]) out.fail(e);
    for (const mid of this.incoming.keys()) {
      this.dispatchEvent(new CustomEvent('aborted', { detail: { messageId: mid, reason: 'session closed' } }));
    }
    this.incoming.clear();
    this.dispatchEvent(new CustomEvent('closed', { detail: { error: err } }));
  }
}
