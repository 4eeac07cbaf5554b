// One chat window: the conversation with one contact. It shows the messages
// with timestamps and delivery ticks, whether messages travel as SIP MESSAGE
// (page mode, RFC 3428) or in an MSRP session (RFC 4975), the peer's typing
// state (RFC 3994), file transfers with progress (RFC 5547), and an incoming
// session offer to accept or decline.
//
// The window talks to the network only through its ConversationHost (the
// page's wiring of the browser library), so that this file knows the DOM and
// the host knows the library.

import { h, timeElement, formatBytes, initials, hueOf, errorText } from './dom.js';

/**
 * The library's Chat for this peer (webclient.js). The conversation reads
 * its `state` and calls the host to act on it; the page follows its events.
 * @typedef {any} ChatHandle
 */

/**
 * A file transfer of the library (webclient.js FileTransfer): `direction`,
 * `name`, `size`, `state`, events "progress" {bytes, total}, "done" {blob},
 * "failed" {error}; accept() and reject() for an offered incoming file.
 * @typedef {any} TransferHandle
 */

/**
 * What a conversation needs from the page (the wiring of the library).
 * @typedef {object} ConversationHost
 * @property {() => string} newMessageId a fresh Message-ID, so delivery
 *   notifications can be matched to the bubble before the send resolves
 * @property {(uri: string, text: string, messageId: string) => Promise<unknown>} sendPage
 *   page-mode MESSAGE; resolves on a 2xx, rejects with an Error naming the failure
 * @property {(chat: ChatHandle, text: string, messageId: string) => Promise<unknown>} sendInChat
 *   session-mode SEND; resolves on the peer's success report
 * @property {(chat: ChatHandle) => Promise<void>} openChat   INVITE; resolves once established
 * @property {(chat: ChatHandle) => Promise<void>} closeChat  BYE
 * @property {(chat: ChatHandle) => Promise<void>} acceptChat
 * @property {(chat: ChatHandle) => Promise<void>} declineChat
 * @property {(uri: string, active: boolean) => void} sendComposing  RFC 3994; the library keeps the timers
 * @property {(chat: ChatHandle, file: File, onProgress: (done: number, total: number) => void, signal: AbortSignal) => Promise<unknown>} sendFile
 *   RFC 5547 push; aborting the signal cancels the transfer
 * @property {(conv: Conversation, preview: string, incoming: boolean) => void} activity
 *   a message came or went (for the contact list's preview and unread count)
 */

/**
 * Delivery state of an outgoing message, shown as ticks.
 * @typedef {'sending'|'sent'|'delivered'|'displayed'|'failed'} Status
 */

const STATUS = /** @type {Record<Status, {ticks: string, label: string}>} */ ({
  sending: { ticks: '◷', label: 'Sending' },
  sent: { ticks: '✓', label: 'Sent' },
  delivered: { ticks: '✓✓', label: 'Delivered' },
  displayed: { ticks: '✓✓', label: 'Read' },
  failed: { ticks: '!', label: 'Not delivered' },
});
const STATUS_RANK = { sending: 0, sent: 1, delivered: 2, displayed: 3, failed: 4 };

const ICON_SESSION = 'M4 5h14v10H10l-4 3.5V15H4zM8 9h6M8 12h4';
const ICON_PAGE = 'M3.5 6h15v10h-15zM3.5 6l7.5 6 7.5-6';
const ICON_FILE = 'M6.5 3h6.5l4 4v12h-10.5zM13 3v4h4';
const ICON_CLIP = 'M16 8.5l-6.2 6.2a2 2 0 0 1-2.8-2.8l6.5-6.5a3.5 3.5 0 0 1 5 5l-6.8 6.8a5 5 0 0 1-7.1-7.1L11 3.7';

/** One chat window. */
export class Conversation {
  /**
   * @param {ConversationHost} host
   * @param {string} uri   the peer's address of record
   * @param {string} name  the peer's display name
   * @param {ChatHandle} chat the library's Chat with this peer
   * @param {string} idSuffix unique per page, for element ids
   */
  constructor(host, uri, name, chat, idSuffix) {
    /** @readonly */ this.uri = uri;
    /** @private */ this.host = host;
    /** @type {string} */ this.name = name;
    /** @readonly @type {ChatHandle} */ this.chat = chat;
    /** @private whether the current session reached "open" (for the end notice) */
    this.wasOpen = false;
    /** @private @type {Map<string, HTMLElement>} outgoing messages by Message-ID */
    this.byId = new Map();
    /** @private */ this.lastDay = '';
    /** @private */ this.typingSent = false;
    /** @private @type {Array<() => unknown>} display notifications owed once the user sees the window */
    this.unseen = [];

    const composerId = `composer-${idSuffix}`;
    const fileId = `file-${idSuffix}`;

    this.el = h('section', {
      class: 'conversation', 'data-testid': 'conversation', 'data-peer': uri, 'aria-label': `Chat with ${name}`, hidden: true,
    });

    this.avatar = h('span', { class: 'avatar small', style: `--hue:${hueOf(uri)}`, 'aria-hidden': 'true' }, initials(name),
      h('span', { class: 'presence-dot', 'data-presence': 'unknown' }));
    this.titleEl = h('h2', { text: name });
    this.modePill = h('span', { class: 'mode-pill', 'data-testid': 'chat-mode', 'data-mode': 'page', role: 'status' });
    this.startBtn = h('button', {
      type: 'button', class: 'btn btn-secondary btn-small', 'data-testid': 'start-session',
      on: { click: () => this.startSession() },
    }, 'Start MSRP session');
    this.endBtn = h('button', {
      type: 'button', class: 'btn btn-danger btn-small', 'data-testid': 'end-session', hidden: true,
      on: { click: () => this.endSession() },
    }, 'End session');

    const head = h('header', { class: 'conv-head' },
      this.avatar,
      h('div', { class: 'conv-title' }, this.titleEl, h('span', { class: 'conv-uri', text: uri })),
      h('div', { class: 'conv-actions' }, this.modePill, this.startBtn, this.endBtn));

    this.offerText = h('p', {});
    this.offerBar = h('div', { class: 'offer', 'data-testid': 'chat-offer', role: 'alert', hidden: true },
      this.offerText,
      h('button', { type: 'button', class: 'btn btn-primary btn-small', 'data-testid': 'accept-chat', on: { click: () => this.acceptOffer() } }, 'Accept'),
      h('button', { type: 'button', class: 'btn btn-ghost btn-small', 'data-testid': 'decline-chat', on: { click: () => this.declineOffer() } }, 'Decline'));

    this.list = h('ol', {
      class: 'messages', 'data-testid': 'messages', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions',
      'aria-label': `Messages with ${name}`, tabindex: '0',
    });

    this.typingText = h('span', {});
    this.typingInner = h('span', { 'data-testid': 'typing', class: 'typing-inner', hidden: true },
      h('span', { class: 'typing-dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), ' ', this.typingText);
    this.typing = h('div', { class: 'typing', 'aria-live': 'polite' }, this.typingInner);

    this.input = /** @type {HTMLTextAreaElement} */ (h('textarea', {
      id: composerId, 'data-testid': 'composer', rows: '1', placeholder: `Message ${name}`,
      'aria-describedby': `${composerId}-help`,
    }));
    this.fileInput = /** @type {HTMLInputElement} */ (h('input', { id: fileId, type: 'file', 'data-testid': 'file-input' }));
    this.sendBtn = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'send' }, 'Send');
    const form = h('form', { class: 'composer', 'aria-label': `Write to ${name}` },
      h('label', { class: 'attach', title: 'Send a file (RFC 5547, in an MSRP session of its own)' },
        svg(ICON_CLIP), h('span', { class: 'visually-hidden', text: `Send a file to ${name}` }), this.fileInput),
      h('label', { for: composerId, class: 'visually-hidden', text: `Message to ${name}` }),
      this.input,
      h('span', { id: `${composerId}-help`, class: 'visually-hidden', text: 'Enter sends, Shift+Enter starts a new line.' }),
      this.sendBtn);

    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener('input', () => {
      this.autosize();
      this.localTyping();
    });
    this.fileInput.addEventListener('change', () => {
      const files = [...(this.fileInput.files || [])];
      this.fileInput.value = '';
      for (const f of files) this.sendFile(f);
    });

    this.el.append(head, this.offerBar, this.list, this.typing, form);
    this.chatState(chat?.state || 'idle');
  }

  /** Puts the keyboard focus in the message field. */
  focus() {
    this.input.focus();
  }

  /**
   * Shows the peer's presence in the header.
   * @param {string} presence
   */
  setPresence(presence) {
    this.avatar.querySelector('.presence-dot')?.setAttribute('data-presence', presence);
  }

  /**
   * Updates the peer's display name.
   * @param {string} name
   */
  setName(name) {
    if (!name || name === this.name) return;
    this.name = name;
    this.titleEl.textContent = name;
    this.el.setAttribute('aria-label', `Chat with ${name}`);
    this.list.setAttribute('aria-label', `Messages with ${name}`);
    this.input.placeholder = `Message ${name}`;
    if (this.avatar.firstChild) this.avatar.firstChild.textContent = initials(name);
  }

  /**
   * The window became visible to the user: owed display notifications go out
   * (RFC 5438 §7.2.1.2, "displayed" only once the user could see it).
   */
  seen() {
    const owed = this.unseen.splice(0);
    for (const fn of owed) Promise.resolve().then(fn).catch(() => {});
  }

  // ----- sending -----

  /** @private */
  submit() {
    const text = this.input.value;
    if (!text.trim()) return;
    this.input.value = '';
    this.autosize();
    this.typingSent = false; // the message itself ends "active" (RFC 3994 §3.2)
    this.send(text);
  }

  /**
   * Sends a text: in the MSRP session when one is open, else as a page-mode
   * MESSAGE. The bubble shows the delivery state as it changes.
   * @param {string} text
   * @returns {Promise<void>}
   */
  async send(text) {
    const mode = this.chat?.state === 'open' ? 'session' : 'page';
    const id = this.host.newMessageId();
    const item = this.addMessage({ direction: 'out', text, mode, date: new Date(), status: 'sending' });
    this.track(id, item);
    this.host.activity(this, text, false);
    try {
      if (mode === 'session') {
        await this.host.sendInChat(this.chat, text, id);
        this.setStatus(item, 'delivered'); // resolved by the peer's success report (RFC 4975 §7.1.3)
      } else {
        await this.host.sendPage(this.uri, text, id);
        this.setStatus(item, 'sent'); // 2xx; "delivered" comes with the IMDN (RFC 5438)
      }
    } catch (err) {
      this.setStatus(item, 'failed', errorText(err));
    }
  }

  /**
   * @private
   * @param {string} id
   * @param {HTMLElement} item
   */
  track(id, item) {
    this.byId.set(id, item);
    item.dataset.id = id;
  }

  /**
   * Applies a delivery notification (IMDN, RFC 5438, or an MSRP success
   * report) to the message with this Message-ID.
   * @param {string} id
   * @param {Status} status
   * @param {string} [reason]
   * @returns {boolean} whether the id belongs to this conversation
   */
  delivery(id, status, reason) {
    const item = this.byId.get(String(id));
    if (!item) return false;
    this.setStatus(item, status, reason);
    return true;
  }

  /**
   * @private
   * @param {HTMLElement} item
   * @param {Status} status
   * @param {string} [reason]
   */
  setStatus(item, status, reason) {
    const old = /** @type {Status} */ (item.dataset.status || 'sending');
    if (old === 'failed' || STATUS_RANK[status] <= STATUS_RANK[old]) return; // never go backwards
    item.dataset.status = status;
    const ticks = /** @type {HTMLElement} */ (item.querySelector('.ticks'));
    if (ticks) {
      ticks.textContent = STATUS[status].ticks;
      ticks.title = reason ? `${STATUS[status].label}: ${reason}` : STATUS[status].label;
      ticks.setAttribute('aria-label', ticks.title);
    }
    if (status === 'failed') {
      item.append(h('div', { class: 'fail-reason', 'data-testid': 'message-error', role: 'alert', text: `Not delivered${reason ? `: ${reason}` : ''}` }));
    }
  }

  // ----- receiving -----

  /**
   * Shows an incoming message.
   * @param {{text?: string, blob?: Blob, filename?: string, contentType?: string, mode: 'page'|'session',
   *          date?: Date, markDisplayed?: () => Promise<void>}} m
   * @param {boolean} visible whether the user sees this window now
   */
  receive(m, visible) {
    this.setPeerComposing(false);
    const date = m.date instanceof Date && !Number.isNaN(m.date.valueOf()) ? m.date : new Date();
    if (typeof m.text === 'string') {
      this.addMessage({ direction: 'in', text: m.text, mode: m.mode, date });
      this.host.activity(this, m.text, true);
    } else if (m.blob) {
      // Non-text content in a message (not an RFC 5547 transfer): offer it as a download.
      const name = m.filename || `attachment.${(m.contentType || 'bin').split('/')[1]?.split(';')[0] || 'bin'}`;
      const card = this.fileCard('in', name, m.blob.size, m.mode);
      card.ready(m.blob, name);
      this.host.activity(this, `File: ${name}`, true);
    }
    if (m.markDisplayed) {
      if (visible) m.markDisplayed().catch(() => {});
      else this.unseen.push(m.markDisplayed);
    }
  }

  /**
   * Shows the peer's typing state (RFC 3994 "active"/"idle"; the library
   * applies the refresh timeout).
   * @param {boolean} active
   */
  setPeerComposing(active) {
    this.typingInner.hidden = !active;
    this.typingText.textContent = active ? `${this.name} is typing…` : '';
    this.onPeerComposing?.(active);
  }

  /** @type {((active: boolean) => void)|undefined} set by the page */
  onPeerComposing = undefined;

  /**
   * A system line in the message list ("MSRP session started", errors).
   * @param {string} text
   * @param {''|'good'|'bad'} [tone]
   * @param {string} [testid]
   * @returns {HTMLElement}
   */
  notice(text, tone = '', testid = 'notice') {
    const li = h('li', { class: `notice ${tone}`, 'data-testid': testid, text });
    this.appendItem(li, new Date());
    return li;
  }

  /**
   * @private
   * @param {{direction: 'in'|'out', text: string, mode: 'page'|'session', date: Date, status?: Status}} m
   * @returns {HTMLElement}
   */
  addMessage(m) {
    const status = m.status || 'sent';
    const meta = h('div', { class: 'meta' },
      timeElement(m.date),
      h('span', { class: 'mode-tag', title: m.mode === 'session' ? 'in the MSRP session' : 'as a SIP MESSAGE', text: m.mode === 'session' ? 'MSRP' : 'SIP' }));
    if (m.direction === 'out') {
      meta.append(h('span', { class: 'ticks', 'data-testid': 'message-status', role: 'img', title: STATUS[status].label, 'aria-label': STATUS[status].label, text: STATUS[status].ticks }));
    }
    const li = h('li', {
      class: `msg ${m.direction}`, 'data-testid': 'message', 'data-direction': m.direction, 'data-mode': m.mode,
      'data-status': m.direction === 'out' ? status : undefined,
    },
    h('span', { class: 'visually-hidden', text: m.direction === 'in' ? `${this.name}:` : 'You:' }),
    h('div', { class: 'bubble', 'data-testid': 'message-text', text: m.text }),
    meta);
    this.appendItem(li, m.date, m.direction === 'out');
    return li;
  }

  /**
   * @private
   * @param {HTMLElement} li
   * @param {Date} date
   * @param {boolean} [forceScroll]
   */
  appendItem(li, date, forceScroll = false) {
    const day = date.toDateString();
    if (day !== this.lastDay) {
      this.lastDay = day;
      const today = new Date().toDateString() === day;
      this.list.append(h('li', { class: 'day', 'aria-hidden': 'true', text: today ? 'Today' : date.toLocaleDateString() }));
    }
    const nearBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
    this.list.append(li);
    if (forceScroll || nearBottom) this.list.scrollTop = this.list.scrollHeight;
  }

  // ----- typing state we send -----

  /** @private */
  localTyping() {
    const active = this.input.value.length > 0;
    if (!active && !this.typingSent) return;
    this.typingSent = active;
    this.host.sendComposing(this.uri, active);
  }

  /** @private */
  autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight + 2, 160)}px`;
  }

  // ----- MSRP session -----

  /**
   * Follows the library Chat's state: "idle" | "incoming" | "connecting" |
   * "open" | "closed".
   * @param {string} state
   */
  chatState(state) {
    if (state === 'open' && !this.wasOpen) {
      this.wasOpen = true;
      this.notice('MSRP session established', 'good', 'session-notice');
    }
    if (state !== 'incoming') this.hideOffer();
    const mode = state === 'open' ? 'session' : state === 'connecting' ? 'connecting' : 'page';
    this.modePill.dataset.mode = mode;
    const label = mode === 'session' ? 'MSRP session' : mode === 'connecting' ? 'Starting session…' : 'Page mode';
    this.modePill.title = mode === 'session'
      ? 'Messages travel in an MSRP session (RFC 4975) through the gateway relay'
      : mode === 'connecting' ? 'Setting up an MSRP session with INVITE' : 'Each message is a SIP MESSAGE request (RFC 3428)';
    this.modePill.replaceChildren(svg(mode === 'session' ? ICON_SESSION : ICON_PAGE), label);
    this.startBtn.hidden = mode !== 'page';
    this.startBtn.disabled = state === 'incoming';
    this.endBtn.hidden = mode !== 'session';
  }

  /**
   * The session ended (either side, or the network).
   * @param {string} [reason]
   */
  chatClosed(reason) {
    this.hideOffer();
    if (!this.wasOpen) return;
    this.wasOpen = false;
    const why = reason && reason !== 'closed' && reason !== 'ended' ? `: ${reason}` : '';
    this.notice(`MSRP session ended${why}`, '', 'session-notice');
  }

  /** Starts an MSRP session with the peer (INVITE). */
  async startSession() {
    if (!this.chat || this.chat.state === 'open' || this.chat.state === 'connecting') return;
    try {
      await this.host.openChat(this.chat);
    } catch (err) {
      this.notice(`Could not start an MSRP session: ${errorText(err)}`, 'bad', 'session-error');
    }
  }

  /** Ends the current MSRP session (BYE). */
  async endSession() {
    try {
      await this.host.closeChat(this.chat);
    } catch (err) {
      this.notice(`Closing the session failed: ${errorText(err)}`, 'bad');
    }
  }

  /** Shows the incoming session offer of the Chat. */
  showOffer() {
    this.offerText.textContent = `${this.name} wants to start an MSRP chat session.`;
    this.offerBar.hidden = false;
    this.startBtn.disabled = true;
  }

  /** @private */
  hideOffer() {
    this.offerBar.hidden = true;
  }

  /** Accepts the pending offer. */
  async acceptOffer() {
    this.hideOffer();
    try {
      await this.host.acceptChat(this.chat);
      this.focus();
    } catch (err) {
      this.notice(`Could not accept the session: ${errorText(err)}`, 'bad', 'session-error');
    }
  }

  /** Declines the pending offer. */
  async declineOffer() {
    this.hideOffer();
    try {
      await this.host.declineChat(this.chat);
    } catch {
      // the offer may have been withdrawn meanwhile
    }
    this.notice('Session offer declined');
  }

  // ----- files -----

  /**
   * Sends a file (RFC 5547: an MSRP session of its own, offered with
   * a=file-selector; the peer accepts or declines).
   * @param {File} file
   */
  async sendFile(file) {
    const card = this.fileCard('out', file.name, file.size, 'session');
    card.waiting('Waiting for the peer to accept…');
    const abort = new AbortController();
    card.cancellable(() => abort.abort());
    this.host.activity(this, `File: ${file.name}`, false);
    let started = false;
    try {
      await this.host.sendFile(this.chat, file, (done, total) => {
        if (!started) {
          started = true;
          card.waiting('');
        }
        card.progress(done, total);
      }, abort.signal);
      card.progress(file.size, file.size);
      card.done();
    } catch (err) {
      card.fail(errorText(err));
    }
  }

  /**
   * Shows a file offered to us (RFC 5547) with Accept and Decline; once
   * accepted, a progress bar and then the download link.
   * @param {TransferHandle} t
   */
  incomingFile(t) {
    const card = this.fileCard('in', String(t.name || 'file'), Number(t.size ?? 0), 'session');
    this.host.activity(this, `File: ${t.name || 'file'}`, true);
    t.addEventListener('progress', (/** @type {CustomEvent} */ e) => card.progress(e.detail?.bytes ?? 0, e.detail?.total ?? t.size ?? 0));
    t.addEventListener('done', (/** @type {CustomEvent} */ e) => {
      const blob = e.detail?.blob || t.blob;
      if (blob) card.ready(blob, String(t.name || 'file'));
    });
    t.addEventListener('failed', (/** @type {CustomEvent} */ e) => {
      const state = String(t.state || '');
      card.fail(state === 'declined' ? 'declined' : errorText(e.detail?.error));
    });
    card.offer(
      () => {
        card.cancellable(() => Promise.resolve(t.cancel()).catch(() => {}));
        Promise.resolve(t.accept()).catch((err) => card.fail(errorText(err)));
      },
      () => Promise.resolve(t.reject()).catch(() => {}));
  }

  /**
   * A file bubble, incoming or outgoing, with a progress bar.
   * @private
   * @param {'in'|'out'} direction
   * @param {string} name
   * @param {number} size
   * @param {'page'|'session'} mode
   */
  fileCard(direction, name, size, mode) {
    const bar = /** @type {HTMLProgressElement} */ (h('progress', { max: String(Math.max(size, 1)), value: '0', 'data-testid': 'file-progress', 'aria-label': `Transfer of ${name}` }));
    const pct = h('span', { class: 'file-pct', 'data-testid': 'file-percent', text: '0%' });
    const progressRow = h('div', { class: 'file-progress' }, bar, pct);
    const note = h('span', { class: 'file-note', 'data-testid': 'file-note', hidden: true });
    const actions = h('div', { class: 'file-actions' });
    const status = h('span', { class: 'ticks', 'data-testid': 'message-status', role: 'img', 'aria-label': 'Sending', title: 'Sending', text: STATUS.sending.ticks });
    const li = h('li', {
      class: `msg ${direction} file`, 'data-testid': 'message', 'data-kind': 'file', 'data-direction': direction,
      'data-mode': mode, 'data-status': direction === 'out' ? 'sending' : undefined, 'data-file-name': name, 'data-transfer': 'pending',
    },
    h('span', { class: 'visually-hidden', text: direction === 'in' ? `${this.name} sends a file:` : 'You send a file:' }),
    h('div', { class: 'bubble file-bubble' },
      h('span', { class: 'file-icon', 'aria-hidden': 'true' }, svg(ICON_FILE)),
      h('span', { class: 'file-name', 'data-testid': 'file-name', text: name }),
      h('span', { class: 'file-size', text: formatBytes(size) }),
      note,
      progressRow,
      actions),
    h('div', { class: 'meta' }, timeElement(new Date()), h('span', { class: 'mode-tag', text: 'MSRP' }), direction === 'out' ? status : null));
    this.appendItem(li, new Date(), true);

    const self = this;
    return {
      el: li,
      /** @param {string} text */
      waiting(text) {
        note.textContent = text;
        note.hidden = !text;
      },
      /** @param {number} done @param {number} total */
      progress(done, total) {
        const t = total > 0 ? total : size;
        bar.max = Math.max(t, 1);
        bar.value = Math.min(done, bar.max);
        pct.textContent = `${Math.floor((100 * Math.min(done, t)) / Math.max(t, 1))}%`;
        li.dataset.transfer = 'transferring';
      },
      /** @param {() => void} cancel shows a Cancel button while the transfer runs */
      cancellable(cancel) {
        actions.replaceChildren(h('button', {
          type: 'button', class: 'btn btn-ghost btn-small file-cancel', 'data-testid': 'file-cancel',
          on: { click: () => { actions.replaceChildren(); cancel(); } },
        }, 'Cancel'));
      },
      done() {
        progressRow.hidden = true;
        note.hidden = true;
        actions.replaceChildren();
        li.dataset.transfer = 'done';
        if (direction === 'out') self.setStatus(li, 'delivered');
      },
      /** @param {string} reason */
      fail(reason) {
        if (li.dataset.transfer === 'done') return;
        progressRow.hidden = true;
        note.hidden = true;
        actions.replaceChildren();
        li.dataset.transfer = /declined/.test(reason) ? 'declined' : /cancel/.test(reason) ? 'cancelled' : 'failed';
        if (direction === 'out') self.setStatus(li, 'failed', reason);
        else li.append(h('div', { class: 'fail-reason', 'data-testid': 'message-error', text: reason === 'declined' ? 'Declined' : `Transfer failed: ${reason}` }));
      },
      /** @param {() => void} accept @param {() => void} decline */
      offer(accept, decline) {
        progressRow.hidden = true;
        li.dataset.transfer = 'offered';
        actions.replaceChildren(
          h('button', { type: 'button', class: 'btn btn-primary btn-small', 'data-testid': 'file-accept', on: { click: () => { actions.replaceChildren(); progressRow.hidden = false; li.dataset.transfer = 'accepted'; accept(); } } }, 'Accept'),
          h('button', { type: 'button', class: 'btn btn-ghost btn-small', 'data-testid': 'file-decline', on: { click: () => { actions.replaceChildren(); decline(); } } }, 'Decline'));
      },
      /** @param {Blob} blob @param {string} fileName */
      ready(blob, fileName) {
        progressRow.hidden = true;
        li.dataset.transfer = 'done';
        const url = URL.createObjectURL(blob);
        actions.replaceChildren(h('a', { class: 'file-download', 'data-testid': 'file-download', href: url, download: fileName || name }, `Download (${formatBytes(blob.size)})`));
      },
    };
  }
}

/**
 * A stroked icon from one path (22×22 view box).
 * @param {string} d
 * @returns {SVGSVGElement}
 */
function svg(d) {
  const ns = 'http://www.w3.org/2000/svg';
  const s = document.createElementNS(ns, 'svg');
  s.setAttribute('viewBox', '0 0 22 22');
  s.setAttribute('aria-hidden', 'true');
  s.setAttribute('class', 'icon');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', d);
  s.append(p);
  return s;
}
