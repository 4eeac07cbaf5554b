// The browser library's entry point: a Client registers a SIP identity over
// the gateway's SIP WebSocket (RFC 7118, through SIP.js 0.21.2), holds one
// MSRP relay connection (RFC 7977, RFC 4976) for its sessions, and offers
// page-mode messages (RFC 3428) with IMDN (RFC 5438) and is-composing
// (RFC 3994), MSRP chats and file transfers (RFC 4975, RFC 5547), presence
// (RFC 3856, RFC 3863, RFC 3903) and chat rooms (RFC 7701, RFC 4575).
//
// SIP.js does not reconnect a dropped WebSocket; the Client does, with
// exponential back-off, and registers again.

import {
  UserAgent, Registerer, RegistererState, Inviter, Messager, Subscriber, Publisher,
  SessionState, SubscriptionState, PublisherState,
} from 'sip.js';
import { MsrpConnection } from './msrp/connection.js';
import { newMessageId } from './msrp/ident.js';
import { MsrpCall } from './call.js';
import { sdhFactory, extractSdp } from './sip/sdh.js';
import { msrpMedia, acceptsType } from './sdp.js';
import { buildCpim, buildCpimHead, parseCpim, CPIM_TYPE, IMDN_NS } from './cpim.js';
import { IMDN_TYPE, parseImdn, imdnRequest, buildImdnMessage } from './imdn.js';
import { ISCOMPOSING_TYPE, ComposingSender, ComposingReceiver, buildIsComposing, parseIsComposing } from './iscomposing.js';
import { PIDF_TYPE, buildPidf, parsePidf } from './pidf.js';
import { CONFERENCE_INFO_TYPE, parseConferenceInfo, Roster } from './conference.js';
import { Chat, Room, FileTransfer, ClientError, fileDisposition, dispositionFilename, endSipSession } from './chat.js';
import { aorOf, later } from './util.js';

const decoder = new TextDecoder();

function baseType(ct) {
  return String(ct ?? '').split(';')[0].trim().toLowerCase();
}

function sleep(ms) {
  return new Promise((r) => later(r, ms));
}

/**
 * Options of createClient.
 * @typedef {object} ClientOptions
 * @property {string} uri             our SIP address-of-record, e.g. "sip:alice@example.com"
 * @property {string} password
 * @property {string} [displayName]
 * @property {string} [username]      digest user name when it differs from the URI's user (ephemeral credentials "EXPIRY:NAME")
 * @property {string} [sipUrl]        SIP WebSocket URL; default: the page's origin + "/sip" (ws: or wss:)
 * @property {string} [msrpUrl]       MSRP WebSocket URL; default: the page's origin + "/msrp"
 * @property {'cpim'|'plain'} [pageMode] page-mode MESSAGE body: CPIM with IMDN requests (default) or bare text/plain
 * @property {number} [registerExpires] REGISTER expiry in seconds (default 600)
 * @property {{initialDelay?: number, maxDelay?: number}} [reconnect] back-off in ms (default 1000 … 30000)
 * @property {number} [keepaliveInterval] seconds between bodiless SEND keepalives in open chats (RFC 7977 §6; default 30, 0 disables)
 * @property {any} [WebSocket]        WebSocket constructor for the MSRP connection (Node.js); SIP.js uses globalThis.WebSocket
 */

/**
 * The "state" event's detail.
 * @typedef {{state: 'disconnected'|'connecting'|'connected'|'reconnecting', error?: Error}} StateDetail
 */

function defaultUrl(path) {
  const loc = globalThis.location;
  if (!loc || !/^https?:$/.test(loc.protocol)) {
    throw new ClientError(`no page origin to derive the ${path} WebSocket URL from; pass ${path === '/sip' ? 'sipUrl' : 'msrpUrl'}`);
  }
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}${path}`;
}

function registerError(uri, code, reason) {
  const what = `${code}${reason ? ' ' + reason : ''}`;
  if (code === 401 || code === 403 || code === 407) {
    return new ClientError(`wrong password (or user name) for ${uri}: the SIP registrar answered ${what}`, code);
  }
  if (code === 404) return new ClientError(`the SIP registrar does not know ${uri} (${what})`, code);
  return new ClientError(`SIP registration of ${uri} failed: ${what}`, code);
}

function requestError(method, target, code, reason) {
  const what = `${code}${reason ? ' ' + reason : ''}`;
  switch (code) {
    case 404: return new ClientError(`${target} does not exist (${what})`, code);
    case 408:
    case 480: return new ClientError(`${target} is not available (${what})`, code);
    case 486:
    case 600: return new ClientError(`${target} is busy (${what})`, code);
    case 603: return new ClientError(`${target} declined (${what})`, code);
    case 415: return new ClientError(`${target} does not accept this content (${what})`, code);
    case 488: return new ClientError(`${target} cannot take this session (${what})`, code);
    default: return new ClientError(`${method} to ${target} failed (${what})`, code);
  }
}

/**
 * A presence subscription (RFC 3856). Events: "presence" (detail {uri, status, note, presence}).
 */
export class Watch extends EventTarget {
  constructor(client, uri) {
    super();
    this.client = client;
    /** the watched URI */
    this.uri = uri;
    /** @type {import('./pidf.js').Presence|null} the last presence received */
    this.presence = null;
    this.subscriber = null;
    this.stopped = false;
  }

  start() {
    const c = this.client;
    this.subscriber?.dispose().catch(() => {});
    const sub = new Subscriber(c.ua, UserAgent.makeURI(this.uri), 'presence', {
      expires: 600,
      extraHeaders: [`Accept: ${PIDF_TYPE}`],
    });
    this.subscriber = sub;
    sub.delegate = {
      onNotify: (n) => {
        n.accept().catch(() => {});
        const body = n.request.body;
        if (!body || baseType(n.request.getHeader('Content-Type')) !== PIDF_TYPE) return;
        try {
          this.presence = parsePidf(body);
        } catch {
          return;
        }
        const detail = { uri: this.uri, status: this.presence.status, note: this.presence.note, presence: this.presence };
        this.dispatchEvent(new CustomEvent('presence', { detail }));
        c._emit('presence', detail);
      },
    };
    return new Promise((resolve, reject) => {
      sub.stateChange.addListener((s) => {
        // Subscribed: the first NOTIFY arrived (RFC 6665 §4.1.2.4).
        if (s === SubscriptionState.Subscribed) resolve();
        if (s === SubscriptionState.Terminated) {
          reject(new ClientError(`presence subscription to ${this.uri} was refused or ended`));
          if (!this.stopped && sub === this.subscriber && c.state === 'connected') {
            // RFC 6665 §4.1.3: the notifier ended it; subscribe again later.
            later(() => { if (!this.stopped && sub === this.subscriber && c.state === 'connected') this.start().catch(() => {}); }, 30000);
          }
        }
      });
      sub.subscribe().catch((e) => reject(new ClientError(`SUBSCRIBE failed: ${e.message}`)));
    });
  }

  /** Ends the subscription. */
  async stop() {
    this.stopped = true;
    this.client.watches.delete(aorOf(this.uri));
    const s = this.subscriber;
    this.subscriber = null;
    if (s) await s.unsubscribe().catch(() => {});
  }
}

/**
 * A SIMPLE client in the browser. Events:
 * - "state": detail {@link StateDetail}
 * - "message": detail {@link import('./chat.js').MessageDetail} (page and session mode)
 * - "chat": detail {chat, from, kind: 'session'|'file', transfer?} — an incoming session offer; call chat.accept() or chat.reject()
 * - "composing": detail {from, state, mode, chat?}
 * - "presence": detail {uri, status, note, presence}
 * - "delivered" / "displayed": detail {messageId, from} — IMDN for page-mode messages
 * - "failed": detail {messageId, from, error} — negative IMDN
 * - "log": detail {protocol: 'sip'|'msrp', direction: 'in'|'out'|'note', text} — raw traffic for integrators
 */
export class Client extends EventTarget {
  /** @param {ClientOptions} opts */
  constructor(opts) {
    super();
    if (!opts || typeof opts.uri !== 'string') throw new ClientError('createClient needs a uri such as "sip:alice@example.com"');
    const uri = /^sips?:/i.test(opts.uri) ? opts.uri : `sip:${opts.uri}`;
    const parsed = UserAgent.makeURI(uri);
    if (!parsed || !parsed.user) throw new ClientError(`not a SIP address-of-record: ${JSON.stringify(opts.uri)}`);
    /** our address-of-record */
    this.uri = `sip:${parsed.user}@${parsed.host}`;
    this.domain = parsed.host;
    this.displayName = opts.displayName || undefined;
    this.username = opts.username ?? parsed.user;
    this.password = opts.password ?? '';
    this.sipUrl = opts.sipUrl ?? defaultUrl('/sip');
    this.msrpUrl = opts.msrpUrl ?? defaultUrl('/msrp');
    this.opts = opts;
    this.WebSocket = opts.WebSocket ?? globalThis.WebSocket;
    this.pageMode = opts.pageMode ?? 'cpim';
    /** @type {'disconnected'|'connecting'|'connected'|'reconnecting'} */
    this.state = 'disconnected';
    /** @type {Map<string, Chat>} by peer AOR */
    this.chats = new Map();
    /** @type {Map<string, Room>} by room AOR */
    this.rooms = new Map();
    /** @type {Map<string, Watch>} */
    this.watches = new Map();
    /** SIP.js session → MsrpCall */
    this.calls = new WeakMap();
    /** @type {Map<string, ComposingSender>} page-mode composers by peer AOR */
    this.composers = new Map();
    /** @type {Map<string, ComposingReceiver>} */
    this.composingIn = new Map();
    /** peers that answered 415 to is-composing (RFC 3994 §4) */
    this.noComposing = new Set();
    this.ua = null;
    this.registerer = null;
    this.publisher = null;
    /** @type {MsrpConnection|null} */
    this.msrp = null;
    this.msrpOpening = null;
    this.stopped = true;
    this.connecting = null;
    this.reconnecting = null;
    this.presenceState = null;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setState(state, error) {
    const changed = this.state !== state;
    this.state = state;
    if (changed || error) this._emit('state', error ? { state, error } : { state });
  }

  _log(protocol, direction, text) {
    this._emit('log', { protocol, direction, text });
  }

  /**
   * A full SIP URI for a user name, AOR or URI ("bob" → "sip:bob@<our domain>").
   * @param {string} target
   * @returns {string}
   */
  normalize(target) {
    let t = String(target).trim();
    if (!/^(sips?|tel):/i.test(t)) t = `sip:${t.includes('@') ? t : `${t}@${this.domain}`}`;
    if (!UserAgent.makeURI(t)) throw new ClientError(`not a SIP URI: ${JSON.stringify(target)}`);
    return t;
  }

  /**
   * Connects both WebSockets, registers (REGISTER with digest) and
   * authenticates to the MSRP relay (AUTH). Rejects with a ClientError whose
   * message says what failed (a wrong password says "wrong password").
   * @returns {Promise<void>}
   */
  async connect() {
    if (this.state === 'connected') return;
    if (this.connecting) return this.connecting;
    this.stopped = false;
    this.setState('connecting');
    this.connecting = (async () => {
      try {
        await Promise.all([this._startSip(), this._openMsrp()]);
      } catch (e) {
        this.stopped = true;
        await this._teardown();
        const err = e instanceof ClientError ? e : new ClientError(e.message, e.code);
        this.setState('disconnected', err);
        throw err;
      }
      this.setState('connected');
    })().finally(() => { this.connecting = null; });
    return this.connecting;
  }

  async _startSip() {
    const ua = new UserAgent({
      uri: UserAgent.makeURI(this.uri),
      authorizationUsername: this.username,
      authorizationPassword: this.password,
      displayName: this.displayName,
      transportOptions: { server: this.sipUrl, traceSip: true, keepAliveInterval: 30, connectionTimeout: 10 },
      sessionDescriptionHandlerFactory: sdhFactory(this.calls),
      logBuiltinEnabled: false,
      logLevel: 'log',
      logConnector: (level, category, label, content) => this._sipLog(level, content),
      userAgentString: 'simplegw-webclient SIP.js/0.21.2',
      noAnswerTimeout: 120,
      delegate: {
        onInvite: (inv) => this._onInvite(inv),
        onMessage: (m) => this._onMessage(m),
        onDisconnect: (error) => {
          if (error && !this.stopped) this._scheduleReconnect(new ClientError(`SIP WebSocket lost: ${error.message}`));
        },
      },
    });
    this.ua = ua;
    try {
      await ua.start();
    } catch (e) {
      throw new ClientError(`cannot reach the SIP WebSocket at ${this.sipUrl}: ${e.message}`);
    }
    this.registerer = new Registerer(ua, { expires: this.opts.registerExpires ?? 600 });
    this.registerer.stateChange.addListener((s) => {
      if (s === RegistererState.Unregistered && this.state === 'connected' && !this.stopped) {
        this._scheduleReconnect(new ClientError('registration lost'));
      }
    });
    await this._register();
  }

  _sipLog(level, content) {
    const m = /^(Sending|Received) WebSocket (?:text |binary )?message(?: with CRLF Keep Alive response)?:?\n\n([\s\S]*)$/.exec(content);
    if (m) {
      this._log('sip', m[1] === 'Sending' ? 'out' : 'in', m[2].replace(/\n$/, ''));
    } else if (level === 'error' || level === 'warn') {
      this._log('sip', 'note', content);
    }
  }

  _register() {
    return new Promise((resolve, reject) => {
      this.registerer.register({
        requestDelegate: {
          onAccept: () => resolve(),
          onReject: (res) => reject(registerError(this.uri, res.message.statusCode, res.message.reasonPhrase)),
        },
      }).catch((e) => reject(new ClientError(`REGISTER could not be sent: ${e.message}`)));
    });
  }

  async _openMsrp() {
    const conn = new MsrpConnection({
      url: this.msrpUrl,
      username: this.username,
      password: this.password,
      WebSocket: this.WebSocket,
      log: (direction, text) => this._log('msrp', direction, text),
    });
    conn.addEventListener('close', (e) => {
      if (this.msrp !== conn) return;
      this.msrp = null;
      if (e.detail.unexpected && !this.stopped) this._scheduleReconnect(new ClientError('MSRP WebSocket lost'));
    });
    this.msrp = conn;
    try {
      await conn.connect();
    } catch (e) {
      if (this.msrp === conn) this.msrp = null;
      throw new ClientError(e.message, e.code);
    }
    return conn;
  }

  /**
   * The open relay connection, opened again if it was lost.
   * @returns {Promise<MsrpConnection>}
   */
  async _msrpReady() {
    if (this.msrp && this.msrp.state === 'open') return this.msrp;
    if (this.stopped) throw new ClientError('not connected');
    if (!this.msrpOpening) this.msrpOpening = this._openMsrp().finally(() => { this.msrpOpening = null; });
    return this.msrpOpening;
  }

  _scheduleReconnect(reason) {
    if (this.reconnecting || this.stopped || this.connecting) return;
    this.reconnecting = (async () => {
      this.setState('reconnecting', reason);
      const max = this.opts.reconnect?.maxDelay ?? 30000;
      let delay = this.opts.reconnect?.initialDelay ?? 1000;
      while (!this.stopped) {
        await sleep(delay * (0.8 + Math.random() * 0.4));
        if (this.stopped) return;
        try {
          if (!this.ua.isConnected()) await this.ua.reconnect();
          await this._register();
          await this._msrpReady();
          for (const w of this.watches.values()) w.start().catch(() => {});
          if (this.presenceState) this.setPresence(this.presenceState).catch(() => {});
          this.setState('connected');
          return;
        } catch (e) {
          this.setState('reconnecting', e instanceof ClientError ? e : new ClientError(e.message));
          delay = Math.min(delay * 2, max);
        }
      }
    })().finally(() => { this.reconnecting = null; });
  }

  /**
   * Ends every chat, subscription and publication, unregisters and closes
   * both WebSockets.
   * @returns {Promise<void>}
   */
  async disconnect() {
    if (this.state === 'disconnected' && !this.ua) return;
    this.stopped = true;
    const bounded = (p) => Promise.race([p.catch(() => {}), sleep(2000)]);
    await bounded(Promise.all([...this.chats.values(), ...this.rooms.values()].map((c) => c.close())));
    await bounded(Promise.all([...this.watches.values()].map((w) => w.stop())));
    if (this.publisher) await bounded(this.publisher.unpublish());
    if (this.registerer && this.ua?.isConnected()) await bounded(this.registerer.unregister());
    await this._teardown();
    this.setState('disconnected');
  }

  async _teardown() {
    for (const c of this.composers.values()) c.stop();
    for (const r of this.composingIn.values()) r.stop();
    for (const c of this.chats.values()) c.composer.stop();
    const ua = this.ua;
    this.ua = null;
    this.registerer = null;
    this.publisher = null;
    if (ua) {
      try {
        await Promise.race([ua.stop(), sleep(2000)]);
      } catch {
        // stopped anyway
      }
    }
    const m = this.msrp;
    this.msrp = null;
    m?.close(1000, 'client disconnected');
  }

  _ensureConnected() {
    if (this.state !== 'connected' || !this.ua) {
      throw new ClientError(this.state === 'reconnecting' ? 'connection lost; reconnecting' : 'not connected: call connect() first');
    }
  }

  // ---------------------------------------------------------------- page mode

  /**
   * Sends a page-mode message (SIP MESSAGE, RFC 3428). With pageMode "cpim"
   * (the default) the text is wrapped in CPIM with an IMDN request for
   * delivery and display notifications (RFC 5438 §7.1.1), which arrive as
   * "delivered"/"displayed" events. Resolves on the 2xx answer.
   * @param {string} to
   * @param {string} text
   * @param {{contentType?: string, messageId?: string, imdn?: boolean}} [opts]
   * @returns {Promise<{messageId: string}>}
   */
  async sendMessage(to, text, opts = {}) {
    this._ensureConnected();
    const target = this.normalize(to);
    const messageId = opts.messageId ?? newMessageId();
    const type = opts.contentType ?? 'text/plain;charset=utf-8';
    let body = text;
    let ct = type;
    if (this.pageMode === 'cpim' && opts.imdn !== false) {
      ct = CPIM_TYPE;
      body = decoder.decode(buildCpim({
        from: { uri: this.uri, name: this.displayName },
        to: { uri: target },
        dateTime: new Date(),
        ns: { imdn: IMDN_NS },
        headers: [['imdn.Message-ID', messageId], ['imdn.Disposition-Notification', 'positive-delivery, negative-delivery, display']],
        contentType: type,
        body: text,
      }));
    }
    this.composers.get(aorOf(target))?.sent();
    this.chats.get(aorOf(target))?.composer.sent();
    await this._message(target, body, ct);
    return { messageId };
  }

  _message(target, body, contentType) {
    return new Promise((resolve, reject) => {
      const uri = UserAgent.makeURI(target);
      if (!uri) {
        reject(new ClientError(`not a SIP URI: ${target}`));
        return;
      }
      const m = new Messager(this.ua, uri, body, contentType);
      m.message({
        requestDelegate: {
          onAccept: () => resolve(),
          onReject: (res) => reject(requestError('MESSAGE', target, res.message.statusCode, res.message.reasonPhrase)),
        },
      }).catch((e) => reject(new ClientError(`MESSAGE could not be sent: ${e.message}`)));
    });
  }

  /**
   * Tells a peer, in page mode, whether the user is typing (RFC 3994 §4).
   * Prefer chat.sendComposing() for an open chat.
   * @param {string} to
   * @param {boolean} active
   */
  sendComposing(to, active) {
    const target = this.normalize(to);
    const chat = this.chats.get(aorOf(target));
    if (chat) {
      chat.sendComposing(active);
      return;
    }
    let c = this.composers.get(aorOf(target));
    if (!c) {
      c = new ComposingSender((s) => this._sendPageComposing(target, buildIsComposing(s)));
      this.composers.set(aorOf(target), c);
    }
    if (active) c.typing();
    else c.idle();
  }

  _sendPageComposing(target, xml) {
    const aor = aorOf(target);
    if (this.noComposing.has(aor) || this.state !== 'connected') return;
    this._message(target, xml, ISCOMPOSING_TYPE).catch((e) => {
      // RFC 3994 §4: stop after 415.
      if (e.code === 415) this.noComposing.add(aor);
    });
  }

  _onMessage(message) {
    const req = message.request;
    const ct = baseType(req.getHeader('Content-Type'));
    const from = req.from.uri.toString();
    const fromName = req.from.displayName || undefined;
    const body = req.body ?? '';
    if (ct === ISCOMPOSING_TYPE) {
      message.accept().catch(() => {});
      this._pageComposing(from, body);
      return;
    }
    if (ct === CPIM_TYPE) {
      let cpim;
      try {
        cpim = parseCpim(body);
      } catch (e) {
        message.reject({ statusCode: 400, reasonPhrase: 'Bad CPIM' }).catch(() => {});
        return;
      }
      const inner = baseType(cpim.contentType);
      const sender = cpim.from?.uri ?? from;
      message.accept().catch(() => {});
      if (inner === IMDN_TYPE) {
        try {
          this._onPageImdn(from, parseImdn(cpim.text));
        } catch {
          // malformed notification
        }
        return;
      }
      if (inner === ISCOMPOSING_TYPE) {
        this._pageComposing(from, cpim.text);
        return;
      }
      const request = imdnRequest(cpim);
      const detail = {
        from: sender,
        fromName: cpim.from?.name ?? fromName,
        contentType: cpim.contentType,
        mode: 'page',
        messageId: request?.messageId ?? cpim.get(IMDN_NS, 'Message-ID') ?? newMessageId(),
        date: cpim.dateTime ? new Date(cpim.dateTime) : new Date(),
      };
      if (inner.startsWith('text/')) detail.text = cpim.text;
      else {
        detail.blob = new Blob([cpim.body], { type: inner });
        const fn = dispositionFilename(cpim.contentHeader('Content-Disposition'));
        if (fn) detail.filename = fn;
      }
      let displayed = false;
      if (request?.dispositions.includes('display')) {
        detail.markDisplayed = async () => {
          if (displayed) return;
          displayed = true;
          await this._sendImdn(sender, request, 'display', 'displayed');
        };
      }
      this._deliverPage(from, detail);
      // RFC 5438 §7.2.1.1: handed to the application, so delivered.
      if (request?.dispositions.includes('positive-delivery')) this._sendImdn(sender, request, 'delivery', 'delivered').catch(() => {});
      return;
    }
    if (ct.startsWith('text/') || ct === '') {
      message.accept().catch(() => {});
      this._deliverPage(from, { from, fromName, contentType: req.getHeader('Content-Type') ?? 'text/plain', text: body, mode: 'page', messageId: newMessageId(), date: new Date() });
      return;
    }
    message.reject({ statusCode: 415, extraHeaders: [`Accept: text/plain, ${CPIM_TYPE}, ${ISCOMPOSING_TYPE}`] }).catch(() => {});
  }

  _deliverPage(from, detail) {
    const chat = this.chats.get(aorOf(from));
    if (chat) {
      chat._deliver(detail);
      return;
    }
    this.composingIn.get(aorOf(from))?.message();
    this._emit('message', detail);
  }

  _pageComposing(from, xml) {
    let s;
    try {
      s = parseIsComposing(xml);
    } catch {
      return;
    }
    const aor = aorOf(from);
    const chat = this.chats.get(aor);
    if (chat) {
      chat.composingIn.status(s);
      return;
    }
    let r = this.composingIn.get(aor);
    if (!r) {
      r = new ComposingReceiver((state) => this._emit('composing', { from, state, mode: 'page' }));
      this.composingIn.set(aor, r);
    }
    r.status(s);
  }

  async _sendImdn(to, request, kind, status) {
    const { contentType, body } = buildImdnMessage({
      from: { uri: this.uri, name: this.displayName },
      to: { uri: to },
      messageId: newMessageId(),
      notification: { messageId: request.messageId, datetime: request.datetime, recipientUri: this.uri, kind, status },
    });
    await this._message(to, decoder.decode(body), contentType);
  }

  _onPageImdn(from, n) {
    const chat = this.chats.get(aorOf(from));
    chat?._imdn(n);
    if (n.kind === 'display' && n.status === 'displayed') this._emit('displayed', { messageId: n.messageId, from });
    else if (n.kind === 'delivery' && n.status === 'delivered') this._emit('delivered', { messageId: n.messageId, from });
    else if (n.kind === 'delivery') this._emit('failed', { messageId: n.messageId, from, error: new ClientError(`delivery ${n.status}`) });
  }

  // ------------------------------------------------------------- chat sessions

  /**
   * The Chat with a peer, created (idle, no session) when there is none yet.
   * @param {string} peer
   * @returns {Chat}
   */
  getChat(peer) {
    const target = this.normalize(peer);
    const aor = aorOf(target);
    let chat = this.chats.get(aor);
    if (!chat) {
      chat = new Chat(this, target);
      this.chats.set(aor, chat);
    }
    return chat;
  }

  /**
   * Starts an MSRP chat session with a peer (INVITE with MSRP SDP). Resolves
   * with the Chat once the session is established.
   * @param {string} peer
   * @returns {Promise<Chat>}
   */
  async startChat(peer) {
    this._ensureConnected();
    const chat = this.getChat(peer);
    await chat.open();
    return chat;
  }

  _newCall(local, onSession) {
    return new MsrpCall({
      connection: async () => {
        const c = await this._msrpReady();
        return c;
      },
      local,
      user: aorOf(this.uri).replace(/^sip:/, '').split('@')[0] || '-',
      onSession,
    });
  }

  _wireChat(chat, call) {
    return (msrp) => {
      msrp.addEventListener('message', (e) => chat._onSessionMessage(e.detail));
      msrp.addEventListener('closed', (e) => {
        if (chat.call !== call) return;
        if (e.detail.error) {
          const s = chat.sipSession;
          chat._ended('connection lost');
          endSipSession(s);
        }
      });
    };
  }

  _watchSipSession(chat, session) {
    session.stateChange.addListener((s) => {
      // An outgoing setup that fails is reported by _inviteChat instead.
      if (s === SessionState.Terminated && chat.sipSession === session && !(chat.state === 'connecting' && session instanceof Inviter)) {
        chat._ended(chat.state === 'incoming' ? 'cancelled' : 'ended');
      }
    });
  }

  _startKeepalive(chat, call) {
    const every = (this.opts.keepaliveInterval ?? 30) * 1000;
    if (!every) return;
    const tick = () => {
      if (chat.call !== call || chat.state !== 'open' || call.msrp?.closed) return;
      call.msrp.sendBodiless().then(() => later(tick, every), (e) => {
        if (chat.call !== call) return;
        if (e.code === 481 || e.code === 408) chat.close().catch(() => {});
        else later(tick, every);
      });
    };
    later(tick, every);
  }

  async _inviteChat(chat) {
    this._ensureConnected();
    const call = this._newCall(chat.localMedia(), null);
    call.opts.onSession = this._wireChat(chat, call);
    const uri = UserAgent.makeURI(chat.peer);
    if (!uri) throw new ClientError(`not a SIP URI: ${chat.peer}`);
    const inviter = new Inviter(this.ua, uri, { earlyMedia: false });
    this.calls.set(inviter, call);
    chat.call = call;
    chat.sipSession = inviter;
    chat.setState('connecting');
    this._watchSipSession(chat, inviter);
    try {
      await this._invite(inviter, chat.peer);
      if (call.refused) throw new ClientError(`${chat.peer} refused the chat stream`, 488);
      if (call.active) await call.msrp.sendBodiless();
    } catch (e) {
      const pending = chat.invitation;
      if (chat.sipSession === inviter) {
        endSipSession(inviter);
        chat._setupFailed();
      }
      // Glare (both sides invited at once): the side whose offer was turned
      // down takes the other's.
      if (pending && pending.state === SessionState.Initial && chat.state === 'idle') {
        chat.invitation = pending;
        chat.sipSession = pending;
        this._watchSipSession(chat, pending);
        chat.setState('incoming');
        return chat.accept();
      }
      throw e instanceof ClientError ? e : new ClientError(e.message, e.code);
    }
    if (chat instanceof Room && call.remote?.chatroom) chat.capabilities = call.remote.chatroom;
    chat.setState('open');
    this._startKeepalive(chat, call);
  }

  _invite(inviter, target) {
    return new Promise((resolve, reject) => {
      let rejected = null;
      inviter.stateChange.addListener((s) => {
        if (s === SessionState.Established) resolve();
        // SIP.js moves to Terminated before it hands the final response to
        // the request delegate: look at `rejected` a moment later.
        if (s === SessionState.Terminated) {
          queueMicrotask(() => reject(rejected ?? new ClientError(`session with ${target} ended while it was being set up`)));
        }
      });
      inviter.invite({
        requestDelegate: {
          onReject: (res) => { rejected = requestError('INVITE', target, res.message.statusCode, res.message.reasonPhrase); },
        },
      }).catch((e) => reject(new ClientError(`INVITE to ${target} could not be sent: ${e.message}`)));
    });
  }

  async _acceptChat(chat, inv) {
    const call = this._newCall(chat.localMedia(), null);
    call.opts.onSession = this._wireChat(chat, call);
    this.calls.set(inv, call);
    chat.call = call;
    chat.sipSession = inv;
    chat.invitation = null;
    await inv.accept();
    if (inv.state !== SessionState.Established) throw new ClientError('the peer cancelled the chat');
    chat.setState('open');
    if (call.active) call.msrp.sendBodiless().catch(() => {});
    this._startKeepalive(chat, call);
  }

  _onInvite(inv) {
    let media;
    try {
      media = msrpMedia(extractSdp(inv.body ?? ''))[0];
    } catch {
      media = undefined;
    }
    if (!media || media.port === 0 || !media.path.length) {
      inv.reject({ statusCode: 488, reasonPhrase: 'Not Acceptable Here: no MSRP media' }).catch(() => {});
      return;
    }
    const from = inv.remoteIdentity.uri.toString();
    const displayName = inv.remoteIdentity.displayName || undefined;
    const aor = aorOf(from);
    const sel = media.fileSelector;
    if (sel && media.direction === 'recvonly') {
      // A pull request (RFC 5547 §8.2.2): not offered by this library.
      inv.reject({ statusCode: 488, reasonPhrase: 'Not Acceptable Here: file pull not supported' }).catch(() => {});
      return;
    }
    let chat = this.chats.get(aor);
    const isNew = !chat;
    if (!chat) {
      chat = new Chat(this, from, { displayName });
      this.chats.set(aor, chat);
    } else if (displayName && !chat.displayName) {
      chat.displayName = displayName;
    }
    if (sel && media.direction === 'sendonly') {
      const t = new FileTransfer(chat, {
        id: media.fileTransferId ?? newMessageId(),
        direction: 'incoming',
        name: sel.name ?? 'file',
        size: sel.size,
        type: sel.type ?? 'application/octet-stream',
        invitation: inv,
      });
      t.offer = media;
      t.sipSession = inv;
      chat.transfers.set(t.id, t);
      inv.stateChange.addListener((s) => {
        if (s === SessionState.Terminated && !t.received) {
          t.fail(new ClientError(t.state === 'offered' ? 'the sender withdrew the file' : 'the file session ended before the file was complete'));
        }
      });
      if (isNew) this._emit('chat', { chat, from, kind: 'file', transfer: t });
      chat.dispatchEvent(new CustomEvent('file', { detail: { transfer: t } }));
      return;
    }
    // A chat session offer.
    if (chat.state === 'connecting' && chat.sipSession instanceof Inviter) {
      // Glare: the lower AOR keeps its own INVITE, the higher takes the peer's.
      if (aorOf(this.uri) < aor) {
        inv.reject({ statusCode: 486, reasonPhrase: 'Busy Here: crossing INVITE' }).catch(() => {});
      } else {
        chat.invitation = inv;
      }
      return;
    }
    if (chat.state === 'open' || chat.state === 'incoming') {
      const old = chat.sipSession;
      chat._ended('replaced');
      endSipSession(old);
    }
    chat.invitation = inv;
    chat.sipSession = inv;
    chat.setState('incoming');
    this._watchSipSession(chat, inv);
    inv.progress().catch(() => {});
    this._emit('chat', { chat, from, kind: 'session' });
  }

  // ------------------------------------------------------------------- files

  async _sendFile(t, file) {
    this._ensureConnected();
    const chat = t.chat;
    const call = this._newCall({
      acceptTypes: [CPIM_TYPE, '*'],
      acceptWrappedTypes: ['*'],
      direction: 'sendonly',
      fileSelector: { name: t.name, type: t.type, size: t.size },
      fileTransferId: t.id,
      fileDisposition: 'attachment',
    }, null);
    t.call = call;
    const uri = UserAgent.makeURI(chat.peer);
    const inviter = new Inviter(this.ua, uri, { earlyMedia: false });
    this.calls.set(inviter, call);
    t.sipSession = inviter;
    t.setState('connecting');
    inviter.stateChange.addListener((s) => {
      // With every chunk answered, the outcome is the success report's (the
      // receiver's BYE can overtake it).
      if (s === SessionState.Terminated && t.state === 'transferring' && t.out?.state !== 'sent') {
        t.fail(new ClientError('the file session ended before the file was delivered'));
      }
    });
    try {
      await this._invite(inviter, chat.peer);
    } catch (e) {
      const declined = e.code === 603 || e.code === 486 || e.code === 488 || e.code === 415;
      t.fail(declined ? new ClientError(`${chat.peer} declined the file (${e.code})`, e.code) : e, declined ? 'declined' : 'failed');
      return;
    }
    if (t.state !== 'connecting') return;
    if (call.refused) {
      t.fail(new ClientError(`${chat.peer} declined the file`, 488), 'declined');
      return;
    }
    t.setState('transferring');
    const r = call.remote;
    let content = file;
    let contentType = t.type;
    let headers = [['Content-Disposition', fileDisposition(t.name, t.size)]];
    let headLen = 0;
    if (!acceptsType(r.acceptTypes, t.type)) {
      if (!r.acceptTypes.some((x) => baseType(x) === CPIM_TYPE)) {
        throw new ClientError(`${chat.peer} accepts neither ${t.type} nor message/cpim`, 415);
      }
      // RFC 5547 §8.7: the file may travel wrapped in CPIM.
      const head = buildCpimHead({
        from: { uri: this.uri, name: this.displayName },
        to: { uri: chat.peer },
        dateTime: new Date(),
        contentType: t.type,
        contentHeaders: headers,
      });
      content = new Blob([head, file]);
      contentType = CPIM_TYPE;
      headers = [];
      headLen = head.length;
    }
    const out = call.msrp.sendMessage(content, contentType, { headers });
    t.out = out;
    out.addEventListener('progress', (e) => t.progress(Math.max(0, Math.min(t.size, e.detail.acked - headLen))));
    await out.done;
    t.progress(t.size);
    t.succeed();
  }

  async _acceptFile(t) {
    const inv = t.invitation;
    const offer = t.offer;
    const sel = {};
    // RFC 5547 §8.3.1: copy the name, type and size selectors.
    if (offer.fileSelector.name !== undefined) sel.name = offer.fileSelector.name;
    if (offer.fileSelector.type !== undefined) sel.type = offer.fileSelector.type;
    if (offer.fileSelector.size !== undefined) sel.size = offer.fileSelector.size;
    const call = this._newCall({
      acceptTypes: [CPIM_TYPE, '*'],
      acceptWrappedTypes: ['*'],
      direction: 'recvonly',
      fileSelector: sel,
      fileTransferId: offer.fileTransferId,
    }, (msrp) => {
      msrp.addEventListener('incoming', (e) => {
        if (t.incomingMessageId) return;
        t.incomingMessageId = e.detail.messageId;
        t.setState('transferring');
      });
      msrp.addEventListener('progress', (e) => {
        if (e.detail.messageId !== t.incomingMessageId) return;
        t.progress(t.size !== undefined ? Math.min(t.size, e.detail.received) : e.detail.received);
      });
      msrp.addEventListener('aborted', (e) => {
        if (e.detail.messageId === t.incomingMessageId) t.fail(new ClientError(`file transfer ${e.detail.reason}`));
      });
      msrp.addEventListener('message', (e) => {
        const d = e.detail;
        if (d.messageId !== t.incomingMessageId) return;
        t.received = true;
        this._unwrapFile(d, t.type).then((blob) => {
          if (t.size !== undefined && blob.size !== t.size) {
            t.fail(new ClientError(`received ${blob.size} bytes, the offer said ${t.size} (RFC 5547 §8.3.1)`));
            return;
          }
          t.progress(blob.size);
          t.succeed(blob);
        }, (err) => t.fail(new ClientError(`cannot read the received file: ${err.message}`)));
      });
    });
    t.call = call;
    this.calls.set(inv, call);
    await inv.accept();
    if (inv.state !== SessionState.Established) throw new ClientError('the sender withdrew the file');
    if (t.state === 'connecting') t.setState('transferring');
    if (call.active) call.msrp.sendBodiless().catch(() => {});
  }

  async _unwrapFile(d, type) {
    const blob = d.blob();
    if (baseType(d.contentType) !== CPIM_TYPE) return blob.type ? blob : new Blob([blob], { type });
    const head = new Uint8Array(await blob.slice(0, Math.min(blob.size, 65536)).arrayBuffer());
    const cpim = parseCpim(head);
    return blob.slice(cpim.bodyOffset, blob.size, baseType(cpim.contentType) || type);
  }

  // ---------------------------------------------------------------- presence

  /**
   * Publishes our presence (PUBLISH with PIDF, RFC 3903, RFC 3863).
   * @param {{status?: 'open'|'closed', note?: string}} [p] status default "open"
   * @returns {Promise<void>}
   */
  async setPresence(p = {}) {
    this._ensureConnected();
    const state = { status: p.status === 'closed' ? 'closed' : 'open', note: p.note };
    this.presenceState = state;
    const body = buildPidf({ entity: this.uri, status: state.status, note: state.note, contact: this.uri });
    if (!this.publisher) {
      this.publisher = new Publisher(this.ua, UserAgent.makeURI(this.uri), 'presence', { expires: 600, contentType: PIDF_TYPE });
    }
    const pub = this.publisher;
    if (pub.state === PublisherState.Published) {
      await pub.publish(body);
      return;
    }
    await new Promise((resolve, reject) => {
      const l = (s) => {
        if (s === PublisherState.Published) {
          pub.stateChange.removeListener(l);
          resolve();
        } else if (s === PublisherState.Terminated || s === PublisherState.Unpublished) {
          pub.stateChange.removeListener(l);
          if (this.publisher === pub) this.publisher = null;
          reject(new ClientError('the presence server refused the publication'));
        }
      };
      pub.stateChange.addListener(l);
      pub.publish(body).catch((e) => reject(new ClientError(`PUBLISH could not be sent: ${e.message}`)));
    });
  }

  /**
   * Subscribes to a peer's presence (SUBSCRIBE Event: presence, RFC 3856).
   * Notifications arrive as "presence" events (here and on the Watch).
   * @param {string} peer
   * @returns {Promise<Watch>}
   */
  async watch(peer) {
    this._ensureConnected();
    const target = this.normalize(peer);
    const aor = aorOf(target);
    const existing = this.watches.get(aor);
    if (existing) return existing;
    const w = new Watch(this, target);
    this.watches.set(aor, w);
    try {
      await w.start();
    } catch (e) {
      this.watches.delete(aor);
      w.stopped = true;
      throw e;
    }
    return w;
  }

  // ------------------------------------------------------------------- rooms

  /**
   * Joins a chat room (RFC 7701 §5.2: INVITE to the room's URI with
   * a=chatroom), reserves a nickname when given (NICKNAME, §7.1) and
   * subscribes to its roster (Event: conference, RFC 4575).
   * @param {string} uri the room's URI
   * @param {{nickname?: string}} [opts]
   * @returns {Promise<Room>} rejects when the room refused us or the nickname
   */
  async joinRoom(uri, opts = {}) {
    this._ensureConnected();
    const target = this.normalize(uri);
    const aor = aorOf(target);
    let room = this.rooms.get(aor);
    if (!room || room.state === 'closed') {
      room = new Room(this, target, opts);
      this.rooms.set(aor, room);
    }
    await room.open();
    if (opts.nickname) {
      try {
        await room.setNickname(opts.nickname);
      } catch (e) {
        await room.close();
        throw e;
      }
    }
    this._subscribeRoster(room);
    return room;
  }

  _subscribeRoster(room) {
    if (room.subscriber) return;
    const sub = new Subscriber(this.ua, UserAgent.makeURI(room.peer), 'conference', {
      expires: 600,
      extraHeaders: [`Accept: ${CONFERENCE_INFO_TYPE}`],
    });
    const roster = new Roster();
    room.subscriber = sub;
    sub.delegate = {
      onNotify: (n) => {
        n.accept().catch(() => {});
        if (!n.request.body || baseType(n.request.getHeader('Content-Type')) !== CONFERENCE_INFO_TYPE) return;
        try {
          if (roster.apply(parseConferenceInfo(n.request.body))) room._roster(roster.list());
        } catch {
          // malformed document
        }
      },
    };
    sub.subscribe().catch(() => {});
  }
}

/**
 * Creates a client. Nothing is sent until connect().
 * @param {ClientOptions} opts
 * @returns {Client}
 */
export function createClient(opts) {
  return new Client(opts);
}
