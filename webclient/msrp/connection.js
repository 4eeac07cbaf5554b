// The browser's WebSocket connection to its MSRP relay (RFC 7977 §4, §5;
// RFC 4976 §5.1): subprotocol "msrp", one chunk per WebSocket message, AUTH
// with HTTP Digest to obtain the relay's Use-Path, and dispatch of incoming
// requests to sessions by the URI in their To-Path (RFC 4975 §7.3).
//
// Concurrency: JavaScript runs one task at a time, so there are no locks; a
// connection is used by the sessions registered on it, and every pending
// transaction is settled (answered, timed out, or failed on close) exactly once.

import { MsrpMessage, parseMessage, serializeMessage, responseTo, MsrpParseError } from './codec.js';
import { parseUri, uriEqual, formatUri } from './uri.js';
import { parseChallenge, buildAuthorization } from './digest.js';
import { newInvalidHost, randomString } from './ident.js';
import { later } from '../util.js';

const decoder = new TextDecoder();

/** Port written in our own ".invalid" URIs; nobody dials them (RFC 7977 §8.1.1). */
export const INVALID_PORT = 2855;

/**
 * An error of the MSRP layer; `code` is the MSRP status when there is one.
 */
export class MsrpError extends Error {
  /**
   * @param {string} message
   * @param {number} [code]
   */
  constructor(message, code) {
    super(message);
    this.name = 'MsrpError';
    this.code = code;
  }
}

/**
 * The relay URI an AUTH is addressed to, derived from the WebSocket URL
 * (RFC 7977 §8.1: "msrps://host:port;ws"): msrps for wss, msrp for ws.
 * @param {string} wsUrl
 * @returns {string}
 */
export function relayUriFor(wsUrl) {
  const u = new URL(wsUrl);
  const secure = u.protocol === 'wss:' || u.protocol === 'https:';
  const port = u.port ? Number(u.port) : secure ? 443 : 80;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return formatUri({ secure, host, port, transport: 'ws' });
}

/**
 * Options of an MsrpConnection.
 * @typedef {object} MsrpConnectionOptions
 * @property {string} url           WebSocket URL of the relay, e.g. wss://gw.example.com/msrp
 * @property {string} username      digest username (RFC 4976 §9.1)
 * @property {string} password
 * @property {any} [WebSocket]      WebSocket constructor; globalThis.WebSocket by default
 * @property {number} [expires]     requested lifetime of the relay URI in seconds (default 86400; a 423 answer is honoured)
 * @property {number} [transactionTimeout] ms to wait for a response (RFC 4975 §7.1.1: 30 s)
 * @property {number} [connectTimeout] ms to wait for the WebSocket to open and AUTH to finish (default 15 s)
 * @property {(direction: 'in'|'out', text: string) => void} [log] raw traffic, for integrators
 */

/**
 * The interface a session offers to the connection.
 * @typedef {object} SessionEndpoint
 * @property {string} localUri
 * @property {(msg: MsrpMessage) => void} handleRequest
 * @property {(err: Error) => void} connectionLost
 */

/**
 * One WebSocket connection to the relay, shared by every MSRP session of a
 * client. Events: "close" (detail: {code, reason, unexpected}).
 */
export class MsrpConnection extends EventTarget {
  /** @param {MsrpConnectionOptions} opts */
  constructor(opts) {
    super();
    this.opts = opts;
    this.WebSocket = opts.WebSocket ?? globalThis.WebSocket;
    this.relayUri = relayUriFor(opts.url);
    this.secure = parseUri(this.relayUri).secure;
    this.localHost = newInvalidHost();
    /** our own URI for AUTH (From-Path); sessions get their own */
    this.authUri = this.newLocalUri();
    /** @type {string[]} */
    this.usePath = [];
    this.expires = 0;
    /** @type {'closed'|'connecting'|'open'} */
    this.state = 'closed';
    /** @type {Map<string, {resolve: (m: MsrpMessage) => void, reject: (e: Error) => void, timer: any}>} */
    this.pending = new Map();
    /** @type {Map<string, SessionEndpoint>} by session-id of the local URI */
    this.sessions = new Map();
    this.ws = null;
    this.nc = 0;
    this.challenge = null;
    this.refreshTimer = undefined;
    this.closing = false;
  }

  /**
   * A new URI for a session of ours: `msrp(s)://<random>.invalid:2855/<random>;ws`
   * (RFC 7977 §5.2.1 "ws" transport, §8.1.1 ".invalid" host; RFC 4975 §8.2:
   * unique per session and hard to guess).
   * @returns {string}
   */
  newLocalUri() {
    return formatUri({ secure: this.secure, host: this.localHost, port: INVALID_PORT, sessionId: randomString(20), transport: 'ws' });
  }

  /**
   * Opens the WebSocket and authenticates (RFC 4976 §5.1). Resolves with the
   * relay's Use-Path.
   * @returns {Promise<{usePath: string[], expires: number}>}
   * @throws {MsrpError} on a refused connection or credentials (code 401/403)
   */
  async connect() {
    if (this.state !== 'closed') throw new MsrpError('MSRP connection already in use');
    if (!this.WebSocket) throw new MsrpError('no WebSocket implementation available');
    this.state = 'connecting';
    this.closing = false;
    const timeout = this.opts.connectTimeout ?? 15000;
    let timer;
    try {
      await Promise.race([
        (async () => {
          await this.open();
          await this.authenticate();
        })(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new MsrpError(`MSRP relay at ${this.opts.url} did not answer within ${timeout / 1000} s`)), timeout);
        }),
      ]);
    } catch (e) {
      this.close(1000, 'connect failed');
      throw e;
    } finally {
      clearTimeout(timer);
    }
    this.state = 'open';
    return { usePath: this.usePath, expires: this.expires };
  }

  open() {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new this.WebSocket(this.opts.url, 'msrp');
      } catch (e) {
        reject(new MsrpError(`cannot open the MSRP WebSocket ${this.opts.url}: ${e.message}`));
        return;
      }
      this.ws = ws;
      ws.binaryType = 'arraybuffer';
      let opened = false;
      ws.onopen = () => {
        opened = true;
        if (ws.protocol && ws.protocol !== 'msrp') {
          reject(new MsrpError(`server chose WebSocket subprotocol ${JSON.stringify(ws.protocol)}, not "msrp" (RFC 7977 §4.1)`));
          ws.close();
          return;
        }
        resolve();
      };
      ws.onerror = () => {
        if (!opened) reject(new MsrpError(`cannot connect to the MSRP relay at ${this.opts.url}`));
      };
      ws.onclose = (ev) => {
        if (!opened) reject(new MsrpError(`MSRP WebSocket ${this.opts.url} closed before opening (code ${ev.code})`));
        this.onClose(ev.code, ev.reason);
      };
      ws.onmessage = (ev) => this.onData(ev.data);
    });
  }

  /**
   * Sends AUTH, answers a Digest challenge, and keeps the Use-Path (RFC 4976 §5.1).
   * @returns {Promise<void>}
   */
  async authenticate() {
    let expires = this.opts.expires ?? 86400;
    let authorization = this.challenge ? this.authorization() : undefined;
    for (let attempt = 0; attempt < 4; attempt++) {
      const headers = [];
      if (authorization) headers.push(['Authorization', authorization]);
      headers.push(['Expires', String(expires)]);
      const req = new MsrpMessage({ method: 'AUTH', toPath: [this.relayUri], fromPath: [this.authUri], headers });
      const res = await this.request(req);
      if (res.status === 200) {
        const up = res.get('Use-Path');
        if (!up) throw new MsrpError('relay accepted AUTH but sent no Use-Path', 200);
        const usePath = up.trim().split(/\s+/);
        for (const u of usePath) parseUri(u);
        this.usePath = usePath;
        const ex = Number(res.get('Expires'));
        this.expires = Number.isFinite(ex) && ex > 0 ? ex : expires;
        this.scheduleRefresh();
        return;
      }
      if (res.status === 401) {
        const wa = res.get('WWW-Authenticate');
        if (!wa) throw new MsrpError('relay answered 401 without a challenge', 401);
        const fresh = parseChallenge(wa);
        if (authorization && !fresh.stale) {
          throw new MsrpError(`wrong password (or user name) for ${this.opts.username}: the MSRP relay answered 401 again`, 401);
        }
        this.challenge = fresh;
        this.nc = 0;
        authorization = this.authorization();
        continue;
      }
      if (res.status === 403) {
        throw new MsrpError(`wrong password (or user name) for ${this.opts.username}: the MSRP relay answered 403${res.comment ? ' ' + res.comment : ''}`, 403);
      }
      if (res.status === 423) {
        const min = Number(res.get('Min-Expires'));
        const max = Number(res.get('Max-Expires'));
        if (Number.isFinite(max) && max > 0 && expires > max) expires = max;
        else if (Number.isFinite(min) && min > 0 && expires < min) expires = min;
        else throw new MsrpError(`relay refused Expires ${expires} (423)`, 423);
        authorization = this.challenge ? this.authorization() : undefined;
        continue;
      }
      throw new MsrpError(`MSRP relay answered AUTH with ${res.status}${res.comment ? ' ' + res.comment : ''}`, res.status);
    }
    throw new MsrpError('MSRP AUTH did not complete');
  }

  authorization() {
    this.nc++;
    return buildAuthorization({
      challenge: this.challenge,
      username: this.opts.username,
      password: this.opts.password,
      method: 'AUTH',
      uri: this.relayUri,
      nc: this.nc,
    });
  }

  // RFC 4976 §5.1: the URI lasts Expires seconds; ask for a new one before
  // then. Sessions started afterwards use the new Use-Path; running sessions
  // keep theirs until it expires.
  scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    if (!this.expires) return;
    const ms = Math.max(5, this.expires * 0.9) * 1000;
    this.refreshTimer = later(() => {
      if (this.state !== 'open') return;
      // Start from a fresh challenge: the old nonce may be gone.
      this.challenge = null;
      this.authenticate().catch((e) => this.opts.log?.('in', `AUTH refresh failed: ${e.message}`));
    }, Math.min(ms, 0x7fffffff));
  }

  /**
   * Registers a session so that requests addressed to its URI reach it.
   * @param {SessionEndpoint} s
   */
  register(s) {
    this.sessions.set(parseUri(s.localUri).sessionId, s);
  }

  /** @param {SessionEndpoint} s */
  unregister(s) {
    const id = parseUri(s.localUri).sessionId;
    if (this.sessions.get(id) === s) this.sessions.delete(id);
  }

  /**
   * Writes one message (one chunk) as a binary WebSocket message.
   * @param {MsrpMessage} msg
   */
  send(msg) {
    if (!this.ws || this.ws.readyState !== 1) throw new MsrpError('MSRP connection is not open');
    const bytes = serializeMessage(msg);
    if (this.opts.log) this.opts.log('out', describe(bytes, msg));
    this.ws.send(bytes);
  }

  /**
   * Sends a request and resolves with its response. Rejects with an
   * MsrpError 408 when none arrives within the transaction timeout (RFC 4975
   * §7.1.1: 30 s after the last byte), or when the connection closes.
   * @param {MsrpMessage} msg
   * @returns {Promise<MsrpMessage>}
   */
  request(msg) {
    return new Promise((resolve, reject) => {
      try {
        this.send(msg);
      } catch (e) {
        reject(e);
        return;
      }
      const tid = msg.transactionId;
      const timer = setTimeout(() => {
        this.pending.delete(tid);
        reject(new MsrpError(`no response to ${msg.method} within ${(this.opts.transactionTimeout ?? 30000) / 1000} s`, 408));
      }, this.opts.transactionTimeout ?? 30000);
      this.pending.set(tid, { resolve, reject, timer });
    });
  }

  /**
   * Resolves when the WebSocket's send buffer is below highWater bytes, so
   * that a file is read no faster than the network takes it.
   * @param {number} [highWater]
   * @returns {Promise<void>}
   */
  async waitWritable(highWater = 1 << 20) {
    while (this.ws && this.ws.readyState === 1 && this.ws.bufferedAmount > highWater) {
      await new Promise((r) => setTimeout(r, 10));
    }
    if (!this.ws || this.ws.readyState !== 1) throw new MsrpError('MSRP connection is not open');
  }

  onData(data) {
    let msg;
    try {
      msg = parseMessage(typeof data === 'string' ? data : new Uint8Array(data));
    } catch (e) {
      if (this.opts.log) this.opts.log('in', `malformed MSRP message dropped: ${e.message}`);
      return;
    }
    if (this.opts.log) this.opts.log('in', describe(typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data), msg));
    if (!msg.isRequest) {
      const p = this.pending.get(msg.transactionId);
      if (p) {
        this.pending.delete(msg.transactionId);
        clearTimeout(p.timer);
        p.resolve(msg);
      }
      return;
    }
    // RFC 4975 §7.3: the To-Path has one URI, which must name a session of
    // ours on this connection; otherwise 481.
    let session;
    if (msg.toPath.length === 1) {
      try {
        const u = parseUri(msg.toPath[0]);
        const s = this.sessions.get(u.sessionId);
        if (s && uriEqual(s.localUri, u)) session = s;
      } catch {
        // no session
      }
    }
    if (!session) {
      if (msg.method !== 'REPORT' && !(msg.method === 'SEND' && msg.failureReport === 'no')) {
        this.trySend(responseTo(msg, 481, 'Session Does Not Exist', msg.toPath[msg.toPath.length - 1]));
      }
      return;
    }
    session.handleRequest(msg);
  }

  /**
   * Sends msg unless the connection is gone (for responses and reports).
   * @param {MsrpMessage} msg
   */
  trySend(msg) {
    try {
      this.send(msg);
    } catch {
      // The connection closed; the peer learns it from its own timers.
    }
  }

  onClose(code, reason) {
    if (this.state === 'closed' && !this.ws) return;
    const unexpected = !this.closing;
    this.state = 'closed';
    this.ws = null;
    clearTimeout(this.refreshTimer);
    const err = new MsrpError(`MSRP connection closed (code ${code}${reason ? ', ' + reason : ''})`, 408);
    for (const [tid, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(tid);
    }
    for (const s of [...this.sessions.values()]) s.connectionLost(err);
    this.sessions.clear();
    this.dispatchEvent(new CustomEvent('close', { detail: { code, reason, unexpected } }));
  }

  /**
   * Closes the connection; every session on it ends.
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = 1000, reason = '') {
    this.closing = true;
    const ws = this.ws;
    if (ws) {
      try {
        ws.close(code, reason);
      } catch {
        // already closing
      }
      this.onClose(code, reason);
    } else {
      this.state = 'closed';
    }
    clearTimeout(this.refreshTimer);
  }
}

// A readable rendering of a message for logs: the head in full, a long or
// binary body summarised.
function describe(bytes, msg) {
  if (!msg.body || msg.body.length === 0) return decoder.decode(bytes);
  const head = decoder.decode(bytes.subarray(0, bytes.length - msg.body.length - (msg.transactionId.length + 12)));
  const ct = (msg.contentType ?? '').toLowerCase();
  const texty = ct.startsWith('text/') || ct.startsWith('message/cpim') || ct.includes('xml');
  const shown = texty && msg.body.length <= 2048 ? decoder.decode(msg.body) : `[${msg.body.length} bytes]`;
  return `${head}${shown}\r\n-------${msg.transactionId}${msg.flag}`;
}

export { MsrpParseError };
