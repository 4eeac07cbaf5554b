// Conversations with one peer (Chat), file transfers (FileTransfer) and chat
// rooms (Room) of the browser library. A Chat carries session-mode messages
// over MSRP (RFC 4975) when its session is open and receives page-mode ones
// (RFC 3428) from the same peer; files travel in MSRP sessions of their own
// (RFC 5547); rooms follow RFC 7701 with the roster of RFC 4575.

import { SessionState } from 'sip.js';
import { acceptsType } from './sdp.js';
import { buildCpim, parseCpim, CPIM_TYPE, IMDN_NS } from './cpim.js';
import { IMDN_TYPE, parseImdn } from './imdn.js';
import { ISCOMPOSING_TYPE, buildIsComposing, parseIsComposing, ComposingSender, ComposingReceiver } from './iscomposing.js';
import { newMessageId } from './msrp/ident.js';
import { newFileTransferId } from './call.js';
import { aorOf, deferred, later } from './util.js';

const decoder = new TextDecoder();

/**
 * An error of the library. `code` is the SIP or MSRP status that caused it,
 * when there is one.
 */
export class ClientError extends Error {
  /**
   * @param {string} message
   * @param {number} [code]
   */
  constructor(message, code) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
  }
}

/** What our chat sessions accept (RFC 4975 §8.6; CPIM first, RFC 3862). */
export const CHAT_ACCEPT_TYPES = ['message/cpim', 'text/plain', ISCOMPOSING_TYPE, '*'];
/** What our chat sessions accept inside CPIM. */
export const CHAT_WRAPPED_TYPES = ['text/html', IMDN_TYPE, '*'];

function baseType(ct) {
  return String(ct ?? '').split(';')[0].trim().toLowerCase();
}

function isText(ct) {
  return baseType(ct).startsWith('text/');
}

/**
 * Ends a SIP.js session in whatever state it is: BYE when established,
 * CANCEL while an outgoing INVITE is pending, BYE once an incoming one we are
 * accepting is established, 486 for an incoming one not yet answered.
 * @param {any} s a SIP.js Inviter or Invitation
 * @returns {Promise<void>}
 */
export function endSipSession(s) {
  try {
    switch (s?.state) {
      case SessionState.Established:
        return s.bye().then(() => {}, () => {});
      case SessionState.Initial:
      case SessionState.Establishing:
        if (typeof s.cancel === 'function') return s.cancel().then(() => {}, () => {});
        if (s.state === SessionState.Initial) return s.reject({ statusCode: 486 }).then(() => {}, () => {});
        s.stateChange.addListener((st) => {
          if (st === SessionState.Established) s.bye().catch(() => {});
        });
    }
  } catch {
    // already ending
  }
  return Promise.resolve();
}

/**
 * Content-Disposition for a file (RFC 2183; RFC 2231 for non-ASCII names).
 * @param {string} name
 * @param {number} size
 * @returns {string}
 */
export function fileDisposition(name, size) {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  let v = `attachment; filename="${ascii}"`;
  if (ascii !== name) v += `; filename*=UTF-8''${encodeURIComponent(name)}`;
  return `${v}; size=${size}`;
}

/**
 * The filename parameter of a Content-Disposition value.
 * @param {string|undefined} v
 * @returns {string|undefined}
 */
export function dispositionFilename(v) {
  if (!v) return undefined;
  const ext = /filename\*=UTF-8''([^;\s]+)/i.exec(v);
  if (ext) {
    try {
      return decodeURIComponent(ext[1]);
    } catch {
      // fall through to the plain parameter
    }
  }
  const m = /filename="((?:[^"\\]|\\.)*)"/i.exec(v) ?? /filename=([^;\s]+)/i.exec(v);
  return m ? m[1].replace(/\\(.)/g, '$1') : undefined;
}

/**
 * The detail of a "message" event.
 * @typedef {object} MessageDetail
 * @property {string} from          sender URI (the CPIM From for room messages)
 * @property {string} [fromName]    sender's display name, when known
 * @property {string} [text]        the text, for text/* content
 * @property {Blob} [blob]          the content, for anything else
 * @property {string} [filename]    from Content-Disposition, when present
 * @property {string} contentType   of the content (inside CPIM when wrapped)
 * @property {'page'|'session'} mode
 * @property {string} messageId
 * @property {Date} date
 * @property {Chat} [chat]
 * @property {boolean} [private]    room messages: addressed to us alone (RFC 7701 §6.2)
 * @property {() => Promise<void>} [markDisplayed] page mode: sends the display notification the sender asked for (RFC 5438 §7.2.1.2)
 */

/**
 * A file being sent or received (RFC 5547). Events:
 * - "progress": detail {bytes, total}
 * - "done": detail {blob} (incoming) or {} (outgoing)
 * - "failed": detail {error}
 * - "state": detail {state}
 */
export class FileTransfer extends EventTarget {
  /**
   * @param {Chat} chat
   * @param {object} init
   */
  constructor(chat, init) {
    super();
    /** @type {Chat} */
    this.chat = chat;
    /** RFC 5547 file-transfer-id */
    this.id = init.id;
    /** @type {'incoming'|'outgoing'} */
    this.direction = init.direction;
    this.name = init.name;
    /** @type {number|undefined} */
    this.size = init.size;
    this.type = init.type;
    /** @type {'offered'|'connecting'|'transferring'|'done'|'failed'|'declined'|'cancelled'} */
    this.state = 'offered';
    this.bytes = 0;
    /** @type {Blob|null} the received file, once done */
    this.blob = null;
    /** @type {Error|null} */
    this.error = null;
    this.invitation = init.invitation ?? null;
    this.sipSession = null;
    this.call = null;
    this.out = null;
    const d = deferred();
    /** resolves when the file is delivered (outgoing) or received (incoming); rejects on failure */
    this.done = d.promise;
    this.resolveDone = d.resolve;
    this.rejectDone = d.reject;
    this.done.catch(() => {});
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.dispatchEvent(new CustomEvent('state', { detail: { state: s } }));
  }

  progress(bytes) {
    if (bytes === this.bytes && bytes !== 0) return;
    if (bytes === 0 && this.reportedZero) return;
    if (bytes === 0) this.reportedZero = true;
    this.bytes = bytes;
    const detail = { bytes, total: this.size ?? 0 };
    this.dispatchEvent(new CustomEvent('progress', { detail }));
    this.chat.dispatchEvent(new CustomEvent('progress', { detail: { transfer: this, transferId: this.id, direction: this.direction, ...detail } }));
  }

  succeed(blob) {
    if (this.state === 'done' || this.state === 'failed' || this.state === 'cancelled' || this.state === 'declined') return;
    this.blob = blob ?? null;
    this.setState('done');
    this.dispatchEvent(new CustomEvent('done', { detail: blob ? { blob } : {} }));
    this.resolveDone(this);
    if (this.direction === 'outgoing') {
      // RFC 5547 §8.7: the sender closes the session once the file is through.
      this.hangup();
    } else {
      // The receiver leaves that to the sender, within reason.
      later(() => this.hangup(), 10000);
    }
  }

  /**
   * @param {Error} error
   * @param {'failed'|'declined'|'cancelled'} [state]
   */
  fail(error, state = 'failed') {
    if (this.state === 'done' || this.state === 'failed' || this.state === 'cancelled' || this.state === 'declined') return;
    this.error = error;
    this.setState(state);
    this.dispatchEvent(new CustomEvent('failed', { detail: { error } }));
    this.rejectDone(error);
    this.hangup();
  }

  hangup() {
    this.out?.abort();
    this.call?.close();
    endSipSession(this.sipSession);
  }

  /**
   * Accepts an offered incoming file (RFC 5547 §8.3.1: the answer mirrors the
   * file selector and file-transfer-id, with a=recvonly).
   * @returns {Promise<void>} resolves when the session is up; `done` follows the transfer
   */
  async accept() {
    if (this.direction !== 'incoming' || this.state !== 'offered') throw new ClientError(`file transfer is ${this.state}`);
    this.setState('connecting');
    try {
      await this.chat.client._acceptFile(this);
    } catch (e) {
      this.fail(e instanceof ClientError ? e : new ClientError(`cannot accept the file: ${e.message}`));
      throw this.error;
    }
  }

  /** Declines an offered incoming file (SIP 603 Decline). */
  async reject() {
    if (this.direction !== 'incoming' || this.state !== 'offered') return;
    this.fail(new ClientError('declined', 603), 'declined');
    try {
      await this.invitation?.reject({ statusCode: 603 });
    } catch {
      // the offer is gone already
    }
  }

  /** Alias of reject(). */
  decline() {
    return this.reject();
  }

  /**
   * Cancels a transfer in progress: an outgoing message ends with "#"
   * (RFC 4975 §7.1), an incoming one is refused with 413 (RFC 5547 §8.4), and
   * the SIP session ends.
   */
  cancel() {
    if (this.state === 'offered' && this.direction === 'incoming') return this.reject();
    const mid = this.incomingMessageId;
    if (mid && this.call?.msrp) this.call.msrp.refuse(mid);
    this.fail(new ClientError('cancelled'), 'cancelled');
    return Promise.resolve();
  }
}

/**
 * A conversation with one peer. Events:
 * - "message": detail {@link MessageDetail}
 * - "composing": detail {state: 'active'|'idle', from, mode}
 * - "delivered": detail {messageId} — success report (session) or IMDN (page)
 * - "displayed": detail {messageId} — display notification (RFC 5438)
 * - "failed": detail {messageId, error}
 * - "file": detail {transfer} — a file offered to us, or one we started sending
 * - "progress": detail {transfer, transferId, direction, bytes, total}
 * - "state": detail {state}
 * - "closed": detail {reason}
 */
export class Chat extends EventTarget {
  /**
   * @param {any} client the Client (internal interface)
   * @param {string} peer the peer's URI
   * @param {{displayName?: string}} [opts]
   */
  constructor(client, peer, opts = {}) {
    super();
    this.client = client;
    /** the peer's URI */
    this.peer = peer;
    this.aor = aorOf(peer);
    /** @type {string|undefined} */
    this.displayName = opts.displayName;
    /** @type {'idle'|'incoming'|'connecting'|'open'|'closed'} */
    this.state = 'idle';
    /** @type {Map<string, FileTransfer>} */
    this.transfers = new Map();
    this.call = null;
    this.sipSession = null;
    this.invitation = null;
    this.opening = null;
    this.composer = new ComposingSender((s) => this._sendComposingStatus(s));
    this.composingIn = new ComposingReceiver((state) => {
      const detail = { state, from: this.peer, mode: this.state === 'open' ? 'session' : 'page' };
      this.dispatchEvent(new CustomEvent('composing', { detail }));
      this.client._emit('composing', { ...detail, chat: this });
    });
  }

  /** @returns {'session'|'page'} how send() delivers now */
  get mode() {
    return this.state === 'open' ? 'session' : 'page';
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.dispatchEvent(new CustomEvent('state', { detail: { state: s } }));
  }

  /** Local media parameters of our text session. */
  localMedia() {
    return { acceptTypes: CHAT_ACCEPT_TYPES, acceptWrappedTypes: CHAT_WRAPPED_TYPES };
  }

  /**
   * Accepts the incoming session offer (the "chat" event of the client).
   * @returns {Promise<void>} resolves when the session is established
   */
  async accept() {
    const inv = this.invitation;
    if (!inv || this.state !== 'incoming') return;
    this.setState('connecting');
    try {
      await this.client._acceptChat(this, inv);
    } catch (e) {
      this._ended('accept failed');
      throw e instanceof ClientError ? e : new ClientError(`cannot accept the chat: ${e.message}`);
    }
  }

  /** Declines the incoming session offer (SIP 603 Decline). */
  async reject() {
    const inv = this.invitation;
    if (!inv || this.state !== 'incoming') return;
    this.invitation = null;
    try {
      await inv.reject({ statusCode: 603 });
    } catch {
      // gone already
    }
    this._ended('declined');
  }

  /**
   * Opens the MSRP session if it is not open (an INVITE to the peer).
   * @returns {Promise<void>}
   */
  async open() {
    if (this.state === 'open') return;
    if (this.opening) return this.opening;
    if (this.state === 'incoming') return this.accept();
    this.opening = this.client._inviteChat(this).finally(() => { this.opening = null; });
    return this.opening;
  }

  /**
   * Sends a text message in the session, opening it first when needed.
   * Resolves when the peer confirmed delivery (its success REPORT, RFC 4975
   * §7.1.3); rejects with a ClientError when delivery failed.
   * @param {string} text
   * @param {{contentType?: string, messageId?: string}} [opts]
   * @returns {Promise<{messageId: string}>}
   */
  async send(text, opts = {}) {
    const messageId = opts.messageId ?? newMessageId();
    try {
      await this.open();
      const { body, contentType } = this._wrap(text, opts.contentType ?? 'text/plain;charset=utf-8', messageId);
      this.composer.sent();
      const out = this.call.msrp.sendMessage(body, contentType, { messageId });
      await out.done;
    } catch (e) {
      const err = e instanceof ClientError ? e : new ClientError(`message not delivered: ${e.message}`, e.code);
      this.dispatchEvent(new CustomEvent('failed', { detail: { messageId, error: err } }));
      throw err;
    }
    this.dispatchEvent(new CustomEvent('delivered', { detail: { messageId } }));
    return { messageId };
  }

  /**
   * Wraps content for the peer: in CPIM when the peer lists message/cpim
   * (RFC 3862; RFC 4975 §8.6), as is otherwise.
   * @param {string|Uint8Array} content
   * @param {string} type
   * @param {string} messageId
   * @param {{to?: string}} [opts]
   * @returns {{body: Uint8Array|string, contentType: string}}
   */
  _wrap(content, type, messageId, opts = {}) {
    const r = this.call?.remote;
    if (!r) throw new ClientError('chat session is not open');
    const explicitCpim = r.acceptTypes.some((t) => baseType(t) === CPIM_TYPE);
    const wrappedOk = acceptsType([...r.acceptTypes, ...r.acceptWrappedTypes], type);
    if (explicitCpim && wrappedOk) return this._cpim(content, type, messageId, opts);
    if (acceptsType(r.acceptTypes, type)) return { body: content, contentType: type };
    throw new ClientError(`the peer does not accept ${baseType(type)} (its accept-types: ${r.acceptTypes.join(' ')})`, 415);
  }

  /**
   * The CPIM envelope (RFC 3862) of content: From is this user, To the peer
   * (or opts.to), with the IMDN Message-ID (RFC 5438 §6.3).
   * @param {string|Uint8Array} content
   * @param {string} type
   * @param {string} messageId
   * @param {{to?: string}} [opts]
   * @returns {{body: Uint8Array|string, contentType: string}}
   */
  _cpim(content, type, messageId, opts = {}) {
    return {
      contentType: CPIM_TYPE,
      body: buildCpim({
        from: { uri: this.client.uri, name: this.client.displayName },
        to: { uri: opts.to ?? this.peer },
        dateTime: new Date(),
        ns: { imdn: IMDN_NS },
        headers: [['imdn.Message-ID', messageId]],
        contentType: type,
        body: content,
      }),
    };
  }

  /**
   * Tells the peer whether the user is typing (RFC 3994): call it with true on
   * every edit and false when the input is cleared. Status messages go in the
   * session when it is open, as SIP MESSAGE otherwise; the refresh and idle
   * timers of RFC 3994 §3.2 are handled here.
   * @param {boolean} active
   */
  sendComposing(active) {
    if (active) this.composer.typing();
    else this.composer.idle();
  }

  _sendComposingStatus(s) {
    const xml = buildIsComposing(s);
    if (this.state === 'open' && this.call?.msrp && !this.call.msrp.closed) {
      try {
        const { body, contentType } = this._wrap(xml, ISCOMPOSING_TYPE, newMessageId());
        // Status messages need no reports (RFC 3994 §4: they are hints).
        this.call.msrp.sendMessage(body, contentType, { successReport: false, failureReport: 'no' });
        return;
      } catch {
        // the peer does not take it in the session; use page mode
      }
    }
    this.client._sendPageComposing(this.peer, xml);
  }

  /**
   * Sends a file in an MSRP session of its own (RFC 5547 §8.2.1: a=sendonly,
   * a=file-selector, a=file-transfer-id). The file is read slice by slice.
   * Resolves when the peer confirmed every byte; rejects when it declined or
   * the transfer failed.
   * @param {Blob} file a File or Blob
   * @param {{onProgress?: (bytesAcked: number, total: number) => void, signal?: AbortSignal, name?: string, type?: string}} [opts]
   * @returns {Promise<FileTransfer>}
   */
  async sendFile(file, opts = {}) {
    const t = new FileTransfer(this, {
      id: newFileTransferId(),
      direction: 'outgoing',
      name: opts.name ?? /** @type {any} */ (file).name ?? 'file',
      size: file.size,
      type: opts.type ?? (file.type || 'application/octet-stream'),
    });
    this.transfers.set(t.id, t);
    if (opts.onProgress) t.addEventListener('progress', (e) => opts.onProgress(e.detail.bytes, e.detail.total));
    if (opts.signal) {
      if (opts.signal.aborted) t.cancel();
      else opts.signal.addEventListener('abort', () => t.cancel(), { once: true });
    }
    this.dispatchEvent(new CustomEvent('file', { detail: { transfer: t } }));
    this.client._sendFile(t, file).catch((e) => t.fail(e instanceof ClientError ? e : new ClientError(e.message, e.code)));
    await t.done;
    return t;
  }

  /**
   * Ends the session (BYE, or CANCEL while it is being set up). The Chat stays
   * usable: send() opens a new session.
   * @returns {Promise<void>}
   */
  async close() {
    const s = this.sipSession;
    if (this.state === 'incoming') return this.reject();
    this._ended('closed');
    await endSipSession(s);
  }

  /** An outgoing session could not be set up: back to idle, no "closed" event. */
  _setupFailed() {
    this.call?.close();
    this.call = null;
    this.sipSession = null;
    this.invitation = null;
    this.setState('idle');
  }

  _ended(reason) {
    const wasActive = this.state !== 'idle' && this.state !== 'closed';
    this.call?.close();
    this.call = null;
    this.sipSession = null;
    this.invitation = null;
    this.composer.stop();
    this.composingIn.message();
    if (wasActive) {
      this.setState('closed');
      this.dispatchEvent(new CustomEvent('closed', { detail: { reason } }));
    }
  }

  /**
   * Handles a message received in the session (internal).
   * @param {{messageId: string, contentType: string, headers: Array<[string,string]>, size: number, bytes: () => Uint8Array, blob: () => Blob}} d
   */
  _onSessionMessage(d) {
    const ct = baseType(d.contentType);
    if (ct === CPIM_TYPE) {
      let cpim;
      try {
        cpim = parseCpim(d.bytes());
      } catch {
        return;
      }
      const inner = baseType(cpim.contentType);
      const from = cpim.from?.uri ?? this.peer;
      if (inner === ISCOMPOSING_TYPE) return this._onComposing(decoder.decode(cpim.body), from, 'session');
      if (inner === IMDN_TYPE) return this._onImdn(decoder.decode(cpim.body));
      const detail = {
        from,
        fromName: cpim.from?.name,
        contentType: cpim.contentType,
        mode: 'session',
        messageId: cpim.get(IMDN_NS, 'Message-ID') ?? d.messageId,
        date: cpim.dateTime ? new Date(cpim.dateTime) : new Date(),
        to: cpim.to.map((a) => a.uri),
      };
      if (isText(inner)) detail.text = decoder.decode(cpim.body);
      else {
        detail.blob = new Blob([cpim.body], { type: inner });
        const fn = dispositionFilename(cpim.contentHeader('Content-Disposition'));
        if (fn) detail.filename = fn;
      }
      return this._deliver(detail);
    }
    if (ct === ISCOMPOSING_TYPE) return this._onComposing(decoder.decode(d.bytes()), this.peer, 'session');
    const detail = { from: this.peer, contentType: d.contentType, mode: 'session', messageId: d.messageId, date: new Date() };
    if (isText(ct)) detail.text = decoder.decode(d.bytes());
    else {
      detail.blob = d.blob();
      const fn = dispositionFilename(d.headers.find(([n]) => n.toLowerCase() === 'content-disposition')?.[1]);
      if (fn) detail.filename = fn;
    }
    this._deliver(detail);
  }

  _deliver(detail) {
    this.composingIn.message();
    detail.chat = this;
    this.dispatchEvent(new CustomEvent('message', { detail }));
    this.client._emit('message', detail);
  }

  _onComposing(xml, from, mode) {
    try {
      this.composingIn.status(parseIsComposing(xml));
    } catch {
      // ignore a malformed status message
    }
  }

  _onImdn(xml) {
    let n;
    try {
      n = parseImdn(xml);
    } catch {
      return;
    }
    this._imdn(n);
  }

  _imdn(n) {
    if (n.kind === 'display' && n.status === 'displayed') {
      this.dispatchEvent(new CustomEvent('displayed', { detail: { messageId: n.messageId } }));
    } else if (n.kind === 'delivery' && n.status === 'delivered') {
      this.dispatchEvent(new CustomEvent('delivered', { detail: { messageId: n.messageId } }));
    } else if (n.kind === 'delivery') {
      this.dispatchEvent(new CustomEvent('failed', { detail: { messageId: n.messageId, error: new ClientError(`delivery ${n.status}`) } }));
    }
  }
}

/**
 * A chat room (RFC 7701): a Chat whose peer is the room's focus. Messages are
 * CPIM-wrapped with To set to the room (or to one participant for a private
 * message); the roster comes from the conference event package (RFC 4575).
 * Extra events: "roster" (detail {participants}), "nickname" (detail {nickname}).
 */
export class Room extends Chat {
  /**
   * @param {any} client
   * @param {string} uri the room's URI
   * @param {{nickname?: string}} [opts]
   */
  constructor(client, uri, opts = {}) {
    super(client, uri);
    /** @type {string|undefined} */
    this.nickname = opts.nickname;
    /** @type {import('./conference.js').Participant[]} */
    this.participants = [];
    /** @type {string[]} the room's RFC 7701 §8 capabilities (nickname, private-messages) */
    this.capabilities = [];
    this.subscriber = null;
  }

  localMedia() {
    // RFC 7701 §5.2: message/cpim in accept-types; payload types wrapped.
    return {
      acceptTypes: [CPIM_TYPE],
      acceptWrappedTypes: ['text/plain', 'text/html', IMDN_TYPE, ISCOMPOSING_TYPE, '*'],
      chatroom: ['nickname', 'private-messages'],
    };
  }

  _wrap(content, type, messageId, opts = {}) {
    // RFC 7701 §6.1: always CPIM, To is the room (or the private recipient).
    return this._cpim(content, type, messageId, opts);
  }

  /**
   * Sends a private message to one participant (RFC 7701 §6.2).
   * @param {string} to the participant's URI (as in the roster)
   * @param {string} text
   * @returns {Promise<{messageId: string}>}
   */
  async sendPrivate(to, text) {
    const messageId = newMessageId();
    await this.open();
    const { body, contentType } = this._wrap(text, 'text/plain;charset=utf-8', messageId, { to });
    const out = this.call.msrp.sendMessage(body, contentType, { messageId });
    try {
      await out.done;
    } catch (e) {
      const err = new ClientError(e.code === 404 ? `${to} is not in the room (404)` : e.code === 428 ? `${to} does not take private messages (428)` : `private message not delivered: ${e.message}`, e.code);
      this.dispatchEvent(new CustomEvent('failed', { detail: { messageId, error: err } }));
      throw err;
    }
    this.dispatchEvent(new CustomEvent('delivered', { detail: { messageId } }));
    return { messageId };
  }

  /**
   * Reserves a nickname (RFC 7701 §7.1, NICKNAME with Use-Nickname); "" removes it.
   * @param {string} nickname
   * @returns {Promise<void>} rejects with code 424 (malformed) or 425 (in use)
   */
  async setNickname(nickname) {
    await this.open();
    const q = '"' + nickname.replace(/[\\"]/g, (c) => '\\' + c) + '"';
    const res = await this.call.msrp.requestMethod('NICKNAME', [['Use-Nickname', q]]);
    if (res.status !== 200) {
      const why = res.status === 425 ? 'is already in use or reserved' : res.status === 424 ? 'is not a valid nickname' : `was refused (${res.status} ${res.comment})`;
      throw new ClientError(`nickname "${nickname}" ${why}`, res.status);
    }
    this.nickname = nickname;
    this.dispatchEvent(new CustomEvent('nickname', { detail: { nickname } }));
  }

  _deliver(detail) {
    const to = detail.to ?? [];
    detail.private = to.length > 0 && !to.some((u) => aorOf(u) === this.aor);
    const p = this.participants.find((x) => aorOf(x.entity) === aorOf(detail.from));
    if (p?.nickname) detail.nickname = p.nickname;
    detail.room = this;
    super._deliver(detail);
  }

  _roster(list) {
    this.participants = list;
    this.dispatchEvent(new CustomEvent('roster', { detail: { participants: list } }));
  }

  async close() {
    const sub = this.subscriber;
    this.subscriber = null;
    if (sub) sub.unsubscribe().catch(() => {});
    return super.close();
  }
}

