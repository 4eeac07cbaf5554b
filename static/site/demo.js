// The simplegw demo page: a chat client built only on the public API of the
// browser library (webclient.js, served next to this file by the gateway).
//
// What the page does, top to bottom: read settings (URL parameters, then
// localStorage, then defaults from the page origin) into the login form;
// sign in with createClient() + connect(); show the registration state in a
// badge; keep a contact list with presence; open one Conversation per contact;
// route the library's events (messages, sessions, typing, files, delivery
// notifications, raw protocol traffic) to the right window.

import { createClient, newMessageId } from './webclient.js';
import { Store, readParams } from './demo/settings.js';
import { byTestId, aor, normaliseUri, hostPart, userPart, errorText } from './demo/dom.js';
import { ContactList } from './demo/contacts.js';
import { Conversation } from './demo/conversation.js';
import { ProtocolLog } from './demo/protocol-log.js';

const params = readParams(location.search);
const store = new Store(params.slot);

const ui = {
  loginView: /** @type {HTMLElement} */ (document.querySelector('[data-role="login-view"]')),
  chatView: /** @type {HTMLElement} */ (document.querySelector('[data-role="chat-view"]')),
  sessionBar: /** @type {HTMLElement} */ (document.querySelector('[data-role="session-bar"]')),
  form: /** @type {HTMLFormElement} */ (byTestId(document, 'login-form')),
  loginError: byTestId(document, 'login-error'),
  submit: /** @type {HTMLButtonElement} */ (byTestId(document, 'login-submit')),
  badge: byTestId(document, 'reg-status'),
  me: byTestId(document, 'me'),
  presence: /** @type {HTMLSelectElement} */ (byTestId(document, 'my-presence')),
  logout: byTestId(document, 'logout'),
  addForm: /** @type {HTMLFormElement} */ (byTestId(document, 'add-contact-form')),
  addInput: /** @type {HTMLInputElement} */ (byTestId(document, 'add-contact-input')),
  conversations: /** @type {HTMLElement} */ (document.querySelector('[data-role="conversations"]')),
  emptyState: /** @type {HTMLElement} */ (document.querySelector('[data-role="empty-state"]')),
};

const log = new ProtocolLog(/** @type {HTMLDetailsElement} */ (byTestId(document, 'raw-log')));
const contacts = new ContactList(
  /** @type {HTMLUListElement} */ (byTestId(document, 'contact-list')),
  /** @type {HTMLElement} */ (document.querySelector('[data-role="contacts-empty"]')),
  (uri) => openConversation(uri, true));

/** @type {any} the library client while signed in */
let client = null;
/** @type {string} our own address of record */
let self = '';
/** @type {Map<string, Conversation>} by peer address of record */
const conversations = new Map();
/** @type {Conversation|null} */
let current = null;
let convCounter = 0;

// ---------------------------------------------------------------- login form

/** Fills the login form from URL parameters, storage and page-origin defaults. */
function fillForm() {
  const s = store.loadSettings(location, params.prefill);
  const f = ui.form.elements;
  /** @type {HTMLInputElement} */ (f.namedItem('uri')).value = s.uri;
  /** @type {HTMLInputElement} */ (f.namedItem('password')).value = s.password;
  /** @type {HTMLInputElement} */ (f.namedItem('displayName')).value = s.displayName;
  /** @type {HTMLInputElement} */ (f.namedItem('sipUrl')).value = s.sipUrl;
  /** @type {HTMLInputElement} */ (f.namedItem('msrpUrl')).value = s.msrpUrl;
  /** @type {HTMLInputElement} */ (f.namedItem('remember')).checked = s.remember;
}

/** @returns {import('./demo/settings.js').Settings} */
function readForm() {
  const f = ui.form.elements;
  const val = (/** @type {string} */ n) => /** @type {HTMLInputElement} */ (f.namedItem(n)).value.trim();
  let uri = val('uri');
  if (uri && !/^sips?:/i.test(uri)) uri = `sip:${uri}`;
  return {
    uri,
    password: /** @type {HTMLInputElement} */ (f.namedItem('password')).value,
    displayName: val('displayName'),
    sipUrl: val('sipUrl'),
    msrpUrl: val('msrpUrl'),
    remember: /** @type {HTMLInputElement} */ (f.namedItem('remember')).checked,
  };
}

/**
 * Shows a sign-in error under the form, or hides it.
 * @param {string} text
 */
function showLoginError(text) {
  ui.loginError.textContent = text;
  ui.loginError.hidden = !text;
}

ui.form.addEventListener('submit', (e) => {
  e.preventDefault();
  signIn(readForm());
});

/**
 * Connects and registers; on success switches to the chat view.
 * @param {import('./demo/settings.js').Settings} s
 */
async function signIn(s) {
  showLoginError('');
  if (!/^sips?:[^@\s]+@[^@\s]+$/i.test(s.uri)) {
    showLoginError('Enter a SIP address such as sip:alice@localhost.');
    /** @type {HTMLElement} */ (ui.form.elements.namedItem('uri')).focus();
    return;
  }
  store.saveSettings(s);
  ui.submit.disabled = true;
  ui.submit.textContent = 'Connecting…';
  setBadge('connecting', 'Connecting…');
  /** @type {any} */
  let c = null;
  try {
    c = createClient({
      uri: s.uri,
      password: s.password,
      displayName: s.displayName || undefined,
      sipUrl: s.sipUrl || undefined,
      msrpUrl: s.msrpUrl || undefined,
    });
    wireClient(c);
    await c.connect();
  } catch (err) {
    log.add({ protocol: 'INFO', direction: '', text: `connect failed: ${errorText(err)}` });
    try { await c?.disconnect(); } catch { /* already down */ }
    ui.submit.disabled = false;
    ui.submit.textContent = 'Connect';
    setBadge('failed', 'Not registered');
    showLoginError(`Sign-in failed: ${errorText(err)}`);
    return;
  }
  client = c;
  self = aor(s.uri);
  ui.submit.disabled = false;
  ui.submit.textContent = 'Connect';
  enterChatView(s);
}

/**
 * @param {import('./demo/settings.js').Settings} s
 */
function enterChatView(s) {
  setBadge('registered', 'Registered');
  ui.me.replaceChildren();
  const strong = document.createElement('strong');
  strong.textContent = s.displayName || userPart(self);
  ui.me.append(strong, ` ${self}`);
  ui.me.title = self;
  document.title = `${s.displayName || userPart(self)} — simplegw demo`;
  ui.loginView.hidden = true;
  ui.chatView.hidden = false;
  ui.sessionBar.hidden = false;
  document.body.dataset.view = 'chat';

  const saved = store.loadContacts(self);
  for (const c of saved) addContact(c.uri, c.name, false);
  for (const uri of params.contacts) addContact(uri, '', false);
  saveContacts();
  const peer = params.peer ? normaliseUri(params.peer, hostPart(self)) : '';
  if (peer) openConversation(addContact(peer, '', true), false);
  ui.presence.value = 'open';
  publishPresence('open');
}

ui.logout.addEventListener('click', () => signOut());

/** Unregisters, closes everything, and returns to the login form. */
async function signOut() {
  const c = client;
  client = null;
  for (const conv of conversations.values()) conv.el.remove();
  conversations.clear();
  current = null;
  contacts.clear();
  ui.emptyState.hidden = false;
  ui.chatView.hidden = true;
  ui.sessionBar.hidden = true;
  ui.loginView.hidden = false;
  document.body.dataset.view = 'login';
  document.title = 'simplegw demo — SIP and MSRP chat in the browser';
  setBadge('idle', 'Not connected');
  fillForm();
  if (c) {
    try { await c.disconnect(); } catch (err) { log.add({ protocol: 'INFO', direction: '', text: `disconnect: ${errorText(err)}` }); }
  }
}

// ---------------------------------------------------------------- badge

/**
 * @param {'idle'|'connecting'|'registered'|'reconnecting'|'disconnected'|'failed'} state
 * @param {string} text
 * @param {string} [why] shown as the badge's tooltip
 */
function setBadge(state, text, why = '') {
  ui.badge.dataset.state = state;
  ui.badge.textContent = text;
  ui.badge.title = why;
}

// ---------------------------------------------------------------- contacts

/**
 * Adds a contact (and starts watching its presence).
 * @param {string} uri
 * @param {string} name
 * @param {boolean} save
 * @returns {string} the contact's address of record
 */
function addContact(uri, name, save) {
  const key = aor(uri);
  if (!key || key === self) return key;
  const known = contacts.all().some((c) => c.uri === key);
  contacts.ensure(key, name || undefined);
  if (!known) {
    watchPresence(key);
    if (save) saveContacts();
  }
  return key;
}

function saveContacts() {
  if (self) store.saveContacts(self, contacts.all().map((c) => ({ uri: c.uri, name: c.name === userPart(c.uri) ? '' : c.name })));
}

ui.addForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const uri = normaliseUri(ui.addInput.value, hostPart(self));
  if (!uri) {
    ui.addInput.setCustomValidity('Enter a SIP address, e.g. sip:bob@localhost');
    ui.addInput.reportValidity();
    return;
  }
  ui.addInput.setCustomValidity('');
  ui.addInput.value = '';
  openConversation(addContact(uri, '', true), true);
});
ui.addInput.addEventListener('input', () => ui.addInput.setCustomValidity(''));

/**
 * The conversation with a peer, created on first use.
 * @param {string} uri
 * @returns {Conversation}
 */
function conversationFor(uri) {
  const key = aor(uri);
  let conv = conversations.get(key);
  if (!conv) {
    const view = contacts.ensure(key);
    const chat = requireClient().getChat(key);
    conv = new Conversation(host, key, chat.displayName || view.name, chat, String(++convCounter));
    bindChat(conv, chat);
    conv.setPresence(view.presence);
    conv.onPeerComposing = (active) => contacts.update(key, { composing: active });
    conversations.set(key, conv);
    ui.conversations.append(conv.el);
  }
  return conv;
}

/**
 * Shows the conversation with uri.
 * @param {string} uri
 * @param {boolean} focus move the keyboard focus to the message field
 */
function openConversation(uri, focus) {
  const conv = conversationFor(uri);
  if (current && current !== conv) current.el.hidden = true;
  current = conv;
  conv.el.hidden = false;
  ui.emptyState.hidden = true;
  contacts.select(conv.uri);
  contacts.update(conv.uri, { unread: 0 });
  if (!document.hidden) conv.seen();
  if (focus) conv.focus();
}

// ---------------------------------------------------------------- presence

/** @param {string} uri */
function watchPresence(uri) {
  if (!client) return;
  client.watch(uri).catch((/** @type {any} */ err) => log.add({ protocol: 'INFO', direction: '', text: `presence of ${uri}: ${errorText(err)}` }));
}

/**
 * Publishes our presence. PIDF has only open/closed (RFC 3863 §4.1.4); away
 * and busy travel as an open status with a note.
 * @param {string} choice "open" | "away" | "busy" | "closed"
 */
function publishPresence(choice) {
  if (!client) return;
  const p = choice === 'closed' ? { status: 'closed' }
    : choice === 'away' ? { status: 'open', note: 'Away' }
      : choice === 'busy' ? { status: 'open', note: 'Busy' } : { status: 'open' };
  client.setPresence(p).catch((/** @type {any} */ err) => log.add({ protocol: 'INFO', direction: '', text: `publishing presence: ${errorText(err)}` }));
}

ui.presence.addEventListener('change', () => publishPresence(ui.presence.value));

/** Greys out every presence dot (while the connection is down). */
function forgetPresence() {
  for (const c of contacts.all()) contacts.update(c.uri, { presence: 'unknown' });
  for (const conv of conversations.values()) conv.setPresence('unknown');
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) current?.seen();
});

/**
 * The dot colour for a peer's presence: the basic status, refined by the
 * note ("Away", "Busy") that the demo publishes.
 * @param {{status?: string, note?: string}} d
 * @returns {string} "open" | "away" | "busy" | "closed" | "unknown"
 */
function presenceState(d) {
  if (d.status === 'closed') return 'closed';
  if (d.status !== 'open') return 'unknown';
  const note = String(d.note || '').toLowerCase();
  if (/\b(away|idle|be right back|brb)\b/.test(note)) return 'away';
  if (/\b(busy|dnd|do not disturb|in a meeting)\b/.test(note)) return 'busy';
  return 'open';
}

// ---------------------------------------------------------------- the library

/**
 * What conversations need from the network, implemented with the library.
 * @type {import('./demo/conversation.js').ConversationHost}
 */
const host = {
  newMessageId: () => newMessageId(),
  sendPage: (uri, text, messageId) => requireClient().sendMessage(uri, text, { messageId }),
  sendInChat: (chat, text, messageId) => chat.send(text, { messageId }),
  openChat: (chat) => chat.open(),
  closeChat: (chat) => chat.close(),
  acceptChat: (chat) => chat.accept(),
  declineChat: (chat) => chat.reject(),
  sendComposing(uri, active) {
    try {
      client?.sendComposing(uri, active);
    } catch (err) {
      log.add({ protocol: 'INFO', direction: '', text: `typing notification: ${errorText(err)}` });
    }
  },
  sendFile: (chat, file, onProgress, signal) => chat.sendFile(file, { onProgress, signal }),
  activity(conv, preview, incoming) {
    contacts.update(conv.uri, { note: preview.replace(/\s+/g, ' ').slice(0, 80) });
    if (incoming && (conv !== current || document.hidden)) {
      const view = contacts.all().find((c) => c.uri === conv.uri);
      contacts.update(conv.uri, { unread: (view?.unread || 0) + 1 });
    }
    if (!current) openConversation(conv.uri, false);
  },
};

function requireClient() {
  if (!client) throw new Error('not signed in');
  return client;
}

/**
 * The peer of a client event as an address of record: the Chat's when the
 * event names one (so session messages land in the same window as page ones).
 * @param {any} d event detail
 * @returns {string}
 */
function peerOf(d) {
  if (d?.chat?.aor) return aor(d.chat.aor);
  return aor(d?.from || d?.uri || '');
}

/**
 * Follows the events of a peer's Chat that only the Chat reports: its state,
 * session-mode delivery reports, file offers, the end of a session.
 * (Messages and typing state come once, through the client's events.)
 * @param {Conversation} conv
 * @param {any} chat
 */
function bindChat(conv, chat) {
  chat.addEventListener('state', (/** @type {CustomEvent} */ e) => conv.chatState(e.detail?.state || chat.state));
  chat.addEventListener('closed', (/** @type {CustomEvent} */ e) => conv.chatClosed(e.detail?.reason ? String(e.detail.reason) : ''));
  chat.addEventListener('delivered', (/** @type {CustomEvent} */ e) => conv.delivery(e.detail?.messageId, 'delivered'));
  chat.addEventListener('displayed', (/** @type {CustomEvent} */ e) => conv.delivery(e.detail?.messageId, 'displayed'));
  chat.addEventListener('failed', (/** @type {CustomEvent} */ e) => conv.delivery(e.detail?.messageId, 'failed', errorText(e.detail?.error)));
  chat.addEventListener('file', (/** @type {CustomEvent} */ e) => {
    const t = e.detail?.transfer;
    if (t && t.direction === 'incoming') conv.incomingFile(t);
  });
}

/**
 * Applies a page-mode delivery notification to whichever window sent it.
 * @param {any} d
 * @param {'delivered'|'displayed'|'failed'} status
 */
function pageDelivery(d, status) {
  const id = d?.messageId;
  if (!id) return;
  const reason = status === 'failed' ? errorText(d.error) : undefined;
  const first = conversations.get(peerOf(d));
  if (first?.delivery(id, status, reason)) return;
  for (const conv of conversations.values()) if (conv.delivery(id, status, reason)) return;
}

/**
 * Subscribes the page to the client's events.
 * @param {any} c
 */
function wireClient(c) {
  const mine = () => c === client;
  c.addEventListener('message', (/** @type {CustomEvent} */ e) => {
    if (!mine()) return;
    const d = e.detail || {};
    if (d.room) return; // rooms are not part of this demo
    const from = peerOf(d);
    if (!from) return;
    addContact(from, d.fromName || '', true);
    const conv = conversationFor(from);
    if (d.fromName) conv.setName(d.fromName);
    conv.receive(d, conv === current && !document.hidden);
  });
  c.addEventListener('composing', (/** @type {CustomEvent} */ e) => {
    if (!mine()) return;
    const d = e.detail || {};
    const from = peerOf(d);
    if (!from) return;
    conversationFor(from).setPeerComposing(d.state === 'active');
  });
  c.addEventListener('delivered', (/** @type {CustomEvent} */ e) => pageDelivery(e.detail, 'delivered'));
  c.addEventListener('displayed', (/** @type {CustomEvent} */ e) => pageDelivery(e.detail, 'displayed'));
  c.addEventListener('failed', (/** @type {CustomEvent} */ e) => pageDelivery(e.detail, 'failed'));
  c.addEventListener('chat', (/** @type {CustomEvent} */ e) => {
    if (!mine()) return;
    const d = e.detail || {};
    const from = peerOf(d);
    if (!from) return;
    addContact(from, d.chat?.displayName || '', true);
    const conv = conversationFor(from);
    if (d.kind === 'file') return; // the Chat's "file" event shows the offer
    conv.showOffer();
    host.activity(conv, 'wants to start an MSRP session', true);
    if (!current || current === conv) openConversation(from, false);
  });
  c.addEventListener('presence', (/** @type {CustomEvent} */ e) => {
    if (!mine()) return;
    const d = e.detail || {};
    const uri = aor(d.uri || '');
    if (!uri) return;
    const state = presenceState(d);
    contacts.update(uri, d.note ? { presence: state, note: String(d.note) } : { presence: state });
    conversations.get(uri)?.setPresence(state);
  });
  // Connection and registration, including the library's reconnect with back-off.
  c.addEventListener('state', (/** @type {CustomEvent} */ e) => {
    const d = e.detail || {};
    if (d.error) log.add({ protocol: 'INFO', direction: '', text: `${d.state}: ${errorText(d.error)}` });
    if (!mine()) return;
    switch (d.state) {
      case 'connected': setBadge('registered', 'Registered'); break;
      case 'connecting': setBadge('connecting', 'Connecting…'); break;
      case 'reconnecting':
        setBadge('reconnecting', 'Reconnecting…', d.error ? errorText(d.error) : '');
        forgetPresence(); // stale until the subscriptions are renewed
        break;
      case 'disconnected': setBadge('disconnected', 'Disconnected', d.error ? errorText(d.error) : ''); break;
      default: break;
    }
  });
  // Raw traffic for the protocol log.
  c.addEventListener('log', (/** @type {CustomEvent} */ e) => {
    const d = e.detail || {};
    const protocol = String(d.protocol || '').toUpperCase();
    log.add({
      protocol: protocol === 'SIP' || protocol === 'MSRP' ? protocol : 'INFO',
      direction: d.direction === 'in' || d.direction === 'out' ? d.direction : '',
      text: String(d.text ?? ''),
    });
  });
}

// ---------------------------------------------------------------- start

if (window.top !== window) document.body.classList.add('framed');
fillForm();
document.body.dataset.ready = '1';
if (params.autoconnect) {
  const s = readForm();
  if (s.uri) signIn(s);
}
