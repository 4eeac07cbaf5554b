// "Two users side by side": two copies of the demo page in frames, each
// with its own client (a frame is its own JavaScript realm) and its own
// settings slot, signed in automatically and pointed at each other.
//
// URL parameters: left, right (user names or SIP URIs), password.

import { normaliseUri, userPart } from './dom.js';

const form = /** @type {HTMLFormElement} */ (document.querySelector('[data-testid="split-form"]'));
const left = /** @type {HTMLIFrameElement} */ (document.querySelector('[data-testid="split-frame-left"]'));
const right = /** @type {HTMLIFrameElement} */ (document.querySelector('[data-testid="split-frame-right"]'));
const field = (/** @type {string} */ n) => /** @type {HTMLInputElement} */ (form.elements.namedItem(n));

const q = new URLSearchParams(location.search);
for (const n of ['left', 'right', 'password']) {
  const v = q.get(n);
  if (v) field(n).value = v;
}

/**
 * The demo page URL for one side.
 * @param {string} slot
 * @param {string} me
 * @param {string} peer
 * @param {string} password
 * @returns {string}
 */
function frameUrl(slot, me, peer, password) {
  const p = new URLSearchParams({
    slot,
    uri: me,
    name: capitalise(userPart(me)),
    password,
    contacts: peer,
    peer,
    autoconnect: '1',
  });
  return `./?${p}`;
}

/** @param {string} s */
function capitalise(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

function start() {
  const domain = location.hostname === '127.0.0.1' || location.hostname === '[::1]' ? 'localhost' : location.hostname;
  const a = normaliseUri(field('left').value, domain) || `sip:alice@${domain}`;
  const b = normaliseUri(field('right').value, domain) || `sip:bob@${domain}`;
  const pw = field('password').value;
  left.title = `${userPart(a)} (left)`;
  right.title = `${userPart(b)} (right)`;
  left.src = frameUrl('left', a, b, pw);
  right.src = frameUrl('right', b, a, pw);
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  start();
});
start();
