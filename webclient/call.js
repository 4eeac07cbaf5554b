// An MSRP media stream negotiated over SIP: the SDP offer/answer of one SIP
// session (RFC 4975 §8, RFC 4976 §5.1, RFC 6135 §4.2, RFC 5547 §8) and the
// MSRP session it sets up on the client's relay connection.

import { buildMsrpSdp, msrpMedia, answerSetup, offererIsActive } from './sdp.js';
import { MsrpSession } from './msrp/session.js';
import { randomString } from './msrp/ident.js';

/**
 * What we offer or answer, apart from the path.
 * @typedef {object} LocalMediaParams
 * @property {string[]} acceptTypes
 * @property {string[]} [acceptWrappedTypes]
 * @property {'sendrecv'|'sendonly'|'recvonly'} [direction]
 * @property {string[]|null} [chatroom]
 * @property {import('./sdp.js').FileSelector} [fileSelector]
 * @property {string} [fileTransferId]
 * @property {string} [fileDisposition]
 * @property {number} [maxSize]
 */

/**
 * One MSRP stream of one SIP session.
 */
export class MsrpCall {
  /**
   * @param {object} opts
   * @param {() => Promise<import('./msrp/connection.js').MsrpConnection>} opts.connection resolves to an open relay connection
   * @param {LocalMediaParams} opts.local
   * @param {string} opts.user   o= user name
   * @param {object} [opts.sessionOptions] further MsrpSession options (chunkSize, reportTimeout, …)
   * @param {(remote: import('./sdp.js').MsrpMedia) => void} [opts.onRemoteReoffer] called on an in-dialog offer
   * @param {((msrp: MsrpSession) => void) | null} [opts.onSession] called when the MSRP session is created
   */
  constructor(opts) {
    this.opts = opts;
    this.local = opts.local;
    /** @type {MsrpSession|null} */
    this.msrp = null;
    /** @type {import('./sdp.js').MsrpMedia|null} */
    this.remote = null;
    /** @type {string|null} */
    this.localSdp = null;
    /** @type {'offerer'|'answerer'|null} */
    this.role = null;
    /** whether we send the first MSRP request (RFC 6135 §4.2) */
    this.active = false;
    /** the peer refused the stream (port 0, RFC 3264 §6) */
    this.refused = false;
    this.sessionId = String(Math.floor(Math.random() * 1e9));
    this.version = 1;
    this.closed = false;
  }

  async ensureSession() {
    if (this.msrp && !this.msrp.closed) return this.msrp;
    const conn = await this.opts.connection();
    this.msrp = new MsrpSession({
      connection: conn,
      localUri: conn.newLocalUri(),
      usePath: conn.usePath,
      acceptTypes: this.local.acceptTypes,
      maxSize: this.local.maxSize,
      ...this.opts.sessionOptions,
    });
    // Listeners go on before any request can arrive for the session.
    this.opts.onSession?.(this.msrp);
    return this.msrp;
  }

  render(setup, port) {
    return buildMsrpSdp({
      path: this.msrp.sdpPath,
      setup,
      port,
      ...this.local,
    }, { sessionId: this.sessionId, version: this.version, user: this.opts.user });
  }

  /** @returns {Promise<string>} our offer (RFC 6135 §4.2: actpass; the relay makes us reachable) */
  async makeOffer() {
    if (this.role === null) this.role = 'offerer';
    if (this.localSdp && this.role === 'offerer') return this.localSdp;
    await this.ensureSession();
    this.localSdp = this.render('actpass');
    return this.localSdp;
  }

  /** @param {string} sdp the answer to our offer */
  async setRemoteAnswer(sdp) {
    const m = msrpMedia(sdp)[0];
    if (!m || m.port === 0) {
      this.refused = true;
      this.remote = m ?? null;
      return;
    }
    if (!m.path.length) throw new Error('SDP answer has no a=path (RFC 4975 §8.2)');
    this.remote = m;
    this.msrp.setRemotePath(m.path);
    this.active = offererIsActive(m.setup);
  }

  /** @param {string} sdp an offer: the initial one, or an in-dialog one */
  async setRemoteOffer(sdp) {
    const m = msrpMedia(sdp)[0];
    if (this.role === null) this.role = 'answerer';
    if (!m) throw new Error('SDP offer has no MSRP media line');
    const reoffer = this.remote !== null;
    this.remote = m;
    if (m.port === 0) {
      this.refused = true;
    } else {
      if (!m.path.length) throw new Error('SDP offer has no a=path (RFC 4975 §8.2)');
      if (this.msrp) this.msrp.setRemotePath(m.path);
    }
    if (reoffer) this.opts.onRemoteReoffer?.(m);
  }

  /** @returns {Promise<string>} our answer */
  async makeAnswer() {
    if (this.localSdp && this.role === 'answerer' && !this.refused) return this.localSdp;
    if (this.refused) {
      // RFC 3264 §6, RFC 5547 §8.3: a refused stream keeps its file attributes.
      this.version++;
      if (!this.msrp) await this.ensureSession();
      this.localSdp = this.render('active', 0);
      return this.localSdp;
    }
    await this.ensureSession();
    this.msrp.setRemotePath(this.remote.path);
    const setup = answerSetup(this.remote.setup);
    this.active = setup === 'active';
    this.localSdp = this.render(setup);
    return this.localSdp;
  }

  sdhClosed() {
    // The SIP session ended: let success reports already on their way arrive.
    if (this.closed) return;
    this.closed = true;
    this.msrp?.closeWhenSettled();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.msrp?.close();
  }
}

/** A new RFC 5547 §8.1 file-transfer-id: 32 random characters. */
export function newFileTransferId() {
  return randomString(32);
}
