// Indication of message composition (RFC 3994): the application/im-iscomposing+xml
// document (§6) and the sender and receiver state machines (§3.2, §3.3).

import { parseXml, child, escapeXml } from './xml.js';
import { later } from './util.js';

export const ISCOMPOSING_TYPE = 'application/im-iscomposing+xml';
export const ISCOMPOSING_NS = 'urn:ietf:params:xml:ns:im-iscomposing';

/**
 * @typedef {object} IsComposing
 * @property {'active'|'idle'} state (RFC 3994 §3.5: unknown states count as idle)
 * @property {string} [lastActive]
 * @property {string} [contentType]
 * @property {number} [refresh] seconds
 */

/**
 * Builds an isComposing document (RFC 3994 §6).
 * @param {IsComposing} s
 * @returns {string}
 */
export function buildIsComposing(s) {
  let x = '<?xml version="1.0" encoding="UTF-8"?>\r\n';
  x += `<isComposing xmlns="${ISCOMPOSING_NS}">\r\n`;
  x += ` <state>${s.state === 'active' ? 'active' : 'idle'}</state>\r\n`;
  if (s.lastActive) x += ` <lastactive>${escapeXml(s.lastActive)}</lastactive>\r\n`;
  if (s.contentType) x += ` <contenttype>${escapeXml(s.contentType)}</contenttype>\r\n`;
  if (s.refresh !== undefined) x += ` <refresh>${Math.max(1, Math.floor(s.refresh))}</refresh>\r\n`;
  x += '</isComposing>\r\n';
  return x;
}

/**
 * Parses an isComposing document.
 * @param {string} xml
 * @returns {IsComposing}
 */
export function parseIsComposing(xml) {
  const root = parseXml(xml);
  if (root.local !== 'isComposing' || root.ns !== ISCOMPOSING_NS) throw new Error('not an isComposing document');
  const state = child(root, 'state', ISCOMPOSING_NS)?.text.trim();
  if (state === undefined) throw new Error('isComposing without <state>');
  /** @type {IsComposing} */
  const out = { state: state === 'active' ? 'active' : 'idle' };
  const la = child(root, 'lastactive', ISCOMPOSING_NS)?.text.trim();
  const ct = child(root, 'contenttype', ISCOMPOSING_NS)?.text.trim();
  const rf = child(root, 'refresh', ISCOMPOSING_NS)?.text.trim();
  if (la) out.lastActive = la;
  if (ct) out.contentType = ct;
  if (rf && /^\d+$/.test(rf) && Number(rf) > 0) out.refresh = Number(rf);
  return out;
}

/**
 * The composer's side (RFC 3994 §3.2). Call typing() on every edit and sent()
 * when the content message goes out; it calls send(doc) when a status message
 * is due: "active" on the first edit and every refresh interval while typing,
 * "idle" after idleTimeout seconds without an edit (not after a message was
 * sent). Timers use setTimeout; stop() cancels them.
 */
export class ComposingSender {
  /**
   * @param {(s: IsComposing) => void} send
   * @param {{idleTimeout?: number, refresh?: number, contentType?: string}} [opts]
   *   idleTimeout default 15 s, refresh default 60 s (RFC 3994 §3.2: no shorter than 60 s)
   */
  constructor(send, opts = {}) {
    this.send = send;
    this.idleTimeout = (opts.idleTimeout ?? 15) * 1000;
    this.refresh = Math.max(60, opts.refresh ?? 60);
    this.contentType = opts.contentType ?? 'text/plain';
    this.state = 'idle';
    this.lastSent = 0;
    this.idleTimer = undefined;
  }

  /** The user edited the message being composed. */
  typing() {
    const now = Date.now();
    if (this.state === 'idle' || now - this.lastSent >= this.refresh * 1000) {
      this.state = 'active';
      this.lastSent = now;
      this.send({ state: 'active', contentType: this.contentType, refresh: this.refresh });
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = later(() => this.idle(), this.idleTimeout);
  }

  /** The user stopped composing (e.g. cleared the input): "idle" now. */
  idle() {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.state !== 'active') return;
    this.state = 'idle';
    this.send({ state: 'idle', lastActive: new Date().toISOString(), contentType: this.contentType });
  }

  /** The content message was sent: back to idle without a status message. */
  sent() {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.state = 'idle';
  }

  stop() {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

/**
 * The receiver's side (RFC 3994 §3.3): active on an "active" status message;
 * idle on an "idle" one, on a content message, or when the refresh interval
 * (120 s without <refresh>) runs out. onChange(state) is called on every
 * change.
 */
export class ComposingReceiver {
  /** @param {(state: 'active'|'idle') => void} onChange */
  constructor(onChange) {
    this.onChange = onChange;
    this.state = 'idle';
    this.timer = undefined;
  }

  /** @param {IsComposing} s a received status message */
  status(s) {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (s.state === 'active') {
      this.timer = later(() => this.set('idle'), (s.refresh ?? 120) * 1000);
      this.set('active');
    } else {
      this.set('idle');
    }
  }

  /** A content message arrived. */
  message() {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.set('idle');
  }

  set(state) {
    if (state === this.state) return;
    this.state = state;
    this.onChange(state);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
