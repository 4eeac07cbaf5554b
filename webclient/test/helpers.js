// Test helpers: RFC examples as wire bytes, and an in-memory MSRP relay.

import WebSocket from 'ws';
import * as esbuild from 'esbuild';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { options as bundleOptions } from '../build.mjs';
import { parseMessage, serializeMessage, MsrpMessage, responseTo } from '../msrp/codec.js';
import { parseUri, uriEqual } from '../msrp/uri.js';

/**
 * Joins lines with CRLF and ends with CRLF: an RFC example as it is on the wire.
 * @param {string[]} lines
 * @returns {string}
 */
export function wire(lines) {
  return lines.join('\r\n') + '\r\n';
}

/** Random bytes from crypto.getRandomValues (64 KiB at a time). */
export function randomBytes(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
}

/** @param {Uint8Array|ArrayBuffer} data @returns {Promise<string>} hex SHA-256 */
export async function sha256(data) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  return [...d].map((x) => x.toString(16).padStart(2, '0')).join('');
}

/** Resolves on the next event of that type. */
export function once(target, type) {
  return new Promise((resolve) => target.addEventListener(type, (e) => resolve(e.detail), { once: true }));
}

/**
 * An in-memory MSRP relay in the manner of RFC 4976 §6.4 and RFC 7977 §8.3:
 * each client connection owns relay URIs; a request from a client goes to the
 * client owning the next To-Path URI with both relay URIs moved to From-Path;
 * SEND with Failure-Report "yes" is answered 200 at once and a non-200 from
 * the destination becomes a REPORT to the sender. Every message goes through
 * serializeMessage and parseMessage. Options shuffle deliveries, split chunks
 * in pieces and duplicate some.
 */
export class FakeRelay {
  constructor(opts = {}) {
    this.opts = opts;
    /** @type {Map<string, FakeConnection>} relay URI → owner */
    this.bindings = new Map();
    this.queue = [];
    this.flushing = false;
    this.pending = new Map(); // tid toward destination → {origin, msg}
    this.log = [];
  }

  /** @param {string} name @returns {FakeConnection} */
  connect(name) {
    const c = new FakeConnection(this, name);
    const uri = `msrp://relay.example.com:2855/${name}relay;tcp`;
    this.bindings.set(uri, c);
    c.usePath = [uri];
    return c;
  }

  binding(uri) {
    for (const [u, c] of this.bindings) if (uriEqual(u, uri)) return { uri: u, conn: c };
    return null;
  }

  fromClient(conn, bytes) {
    const msg = parseMessage(bytes);
    this.log.push(msg);
    if (!msg.isRequest) {
      const p = this.pending.get(msg.transactionId);
      if (!p) return;
      this.pending.delete(msg.transactionId);
      if (p.msg.method !== 'SEND') {
        // RFC 4976 §6.4.3: other responses travel back to the sender.
        this.deliver(p.origin, new MsrpMessage({ transactionId: p.msg.transactionId, status: msg.status, comment: msg.comment, toPath: p.msg.fromPath, fromPath: [p.self] }));
        return null;
      }
      if (msg.status !== 200 && p.msg.failureReport !== 'no') {
        const rep = new MsrpMessage({
          method: 'REPORT', toPath: p.msg.fromPath, fromPath: [p.self],
          headers: [['Message-ID', p.msg.messageId], ['Byte-Range', p.msg.get('Byte-Range') ?? '1-*/*'], ['Status', `000 ${msg.status} ${msg.comment}`]],
        });
        this.deliver(p.origin, rep);
      }
      return null;
    }
    const first = this.binding(msg.toPath[0]);
    if (!first) return responseTo(msg, 481, 'relay URI unknown', msg.toPath[0]);
    const second = this.binding(msg.toPath[1] ?? '');
    if (!second) return responseTo(msg, 481, 'not a client of this relay', first.uri);
    const out = new MsrpMessage({
      transactionId: undefined,
      method: msg.method,
      toPath: msg.toPath.slice(2),
      fromPath: [second.uri, first.uri, ...msg.fromPath],
      headers: msg.headers,
      contentType: msg.contentType,
      body: msg.body,
      flag: msg.flag,
    });
    const answer = msg.method !== 'REPORT' && !(msg.method === 'SEND' && msg.failureReport === 'no');
    const pieces = this.opts.split && msg.body && msg.body.length > this.opts.split ? this.split(out, this.opts.split) : [out];
    for (const p of pieces) {
      if (answer) this.pending.set(p.transactionId, { origin: conn, msg, self: first.uri });
      this.deliver(second.conn, p);
      if (this.opts.duplicate && p.body && Math.random() < this.opts.duplicate) {
        const dup = new MsrpMessage({ ...p, transactionId: undefined, headers: p.headers });
        this.deliver(second.conn, dup);
      }
    }
    // The relay answers a SEND to the previous hop at once (RFC 4976 §6.4.1).
    return answer && msg.method === 'SEND' ? responseTo(msg, 200, 'OK', first.uri) : null;
  }

  // RFC 4976 §6.4.1: a relay may split a chunk, keeping Byte-Range right.
  split(m, size) {
    const br = m.byteRange ?? { start: 1, end: null, total: null };
    const out = [];
    for (let off = 0; off < m.body.length; off += size) {
      const body = m.body.subarray(off, Math.min(m.body.length, off + size));
      const last = off + size >= m.body.length;
      const start = br.start + off;
      const headers = m.headers.map(([n, v]) => (n.toLowerCase() === 'byte-range' ? [n, `${start}-${start + body.length - 1}/${br.total ?? '*'}`] : [n, v]));
      out.push(new MsrpMessage({ method: m.method, toPath: m.toPath, fromPath: m.fromPath, headers, contentType: m.contentType, body, flag: last ? m.flag : '+' }));
    }
    return out;
  }

  deliver(conn, msg) {
    this.queue.push({ conn, bytes: serializeMessage(msg) });
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
  }

  flush() {
    this.flushing = false;
    const q = this.queue;
    this.queue = [];
    if (this.opts.shuffle) {
      for (let i = q.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [q[i], q[j]] = [q[j], q[i]];
      }
    }
    for (const { conn, bytes } of q) conn.receive(bytes);
  }
}

/** The client side of FakeRelay: implements what MsrpSession needs of a connection. */
export class FakeConnection {
  constructor(relay, name) {
    this.relay = relay;
    this.name = name;
    this.sessions = new Map();
    this.pending = new Map();
    this.usePath = [];
    this.sent = [];
  }

  register(s) { this.sessions.set(parseUri(s.localUri).sessionId, s); }
  unregister(s) { this.sessions.delete(parseUri(s.localUri).sessionId); }
  async waitWritable() {}

  send(msg) {
    const bytes = serializeMessage(msg);
    this.sent.push(parseMessage(bytes));
    const res = this.relay.fromClient(this, bytes);
    if (res) setImmediate(() => this.receive(serializeMessage(res)));
  }

  trySend(msg) { this.send(msg); }

  request(msg) {
    return new Promise((resolve, reject) => {
      this.pending.set(msg.transactionId, { resolve, reject });
      this.send(msg);
    });
  }

  receive(bytes) {
    const msg = parseMessage(bytes);
    if (!msg.isRequest) {
      const p = this.pending.get(msg.transactionId);
      if (p) {
        this.pending.delete(msg.transactionId);
        p.resolve(msg);
      }
      return;
    }
    const s = this.sessions.get(parseUri(msg.toPath[0]).sessionId);
    if (!s) {
      if (msg.method !== 'REPORT') this.send(responseTo(msg, 481, 'no session', msg.toPath[0]));
      return;
    }
    s.handleRequest(msg);
  }
}

/**
 * The "ws" WebSocket with browser task semantics: every event is dispatched
 * in a task of its own, as browsers do (WebSockets spec, "queue a task"),
 * so promise continuations run between two messages. Plain "ws" emits all
 * the messages of one TCP read in one go, which SIP.js 0.21.2 does not
 * expect (its Subscriber sets the dialog delegate in a promise continuation
 * after the first NOTIFY, so a second NOTIFY in the same read is lost).
 */
export class BrowserWebSocket extends WebSocket {
  addEventListener(type, listener, options) {
    const fn = typeof listener === 'function' ? listener : (e) => listener.handleEvent(e);
    super.addEventListener(type, (ev) => setImmediate(() => fn.call(this, ev)), options);
  }
}

/**
 * Builds the bundle as make bundle does, into a temporary file, and imports it.
 * @returns {Promise<any>} the bundle's exports
 */
export async function importBundle() {
  const dir = mkdtempSync(path.join(tmpdir(), 'simplegw-bundle-'));
  const file = path.join(dir, 'webclient.js');
  const r = await esbuild.build({ ...bundleOptions, write: false, outfile: file, logLevel: 'silent' });
  writeFileSync(file, r.outputFiles[0].contents);
  return import(pathToFileURL(file).href);
}
