// Login settings of the demo page: defaults from the page's origin, values kept
// in localStorage, and URL parameters that prefill the form.

/**
 * What the login form holds.
 * @typedef {object} Settings
 * @property {string} uri          SIP address of record, e.g. "sip:alice@localhost"
 * @property {string} password     kept in storage only when `remember` is true
 * @property {string} displayName  shown to peers (From display name, CPIM From)
 * @property {string} sipUrl       SIP over WebSocket endpoint (RFC 7118), e.g. "ws://host/sip"
 * @property {string} msrpUrl      MSRP over WebSocket endpoint (RFC 7977), e.g. "ws://host/msrp"
 * @property {boolean} remember    whether the password is kept in localStorage
 */

/**
 * URL parameters the page understands (all optional):
 *
 *   uri, password, name        prefill the login form
 *   sip, msrp                  WebSocket URLs of the gateway (default: this page's origin)
 *   contacts                   comma-separated SIP URIs added to the contact list
 *   peer                       one SIP URI whose chat is opened after signing in
 *   autoconnect=1              sign in at once with the prefilled values
 *   slot                       storage namespace, so two frames of one origin keep
 *                              separate settings (the side-by-side page uses it)
 *
 * @typedef {object} PageParams
 * @property {Partial<Settings>} prefill
 * @property {string[]} contacts
 * @property {string} peer
 * @property {boolean} autoconnect
 * @property {string} slot
 */

const STORAGE_PREFIX = 'simplegw.demo';

/**
 * The WebSocket URL of a gateway path on the page's own origin: ws:// for an
 * http:// page, wss:// for https://.
 * @param {Location|URL} loc
 * @param {string} path "/sip" or "/msrp"
 * @returns {string}
 */
export function originWsUrl(loc, path) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}${path}`;
}

/**
 * Default settings for a page served from `loc`.
 * @param {Location|URL} loc
 * @returns {Settings}
 */
export function defaultSettings(loc) {
  return {
    uri: '',
    password: '',
    displayName: '',
    sipUrl: originWsUrl(loc, '/sip'),
    msrpUrl: originWsUrl(loc, '/msrp'),
    remember: false,
  };
}

/**
 * Reads the URL parameters of the page.
 * @param {string} search location.search
 * @returns {PageParams}
 */
export function readParams(search) {
  const q = new URLSearchParams(search);
  /** @type {Partial<Settings>} */
  const prefill = {};
  const map = { uri: 'uri', password: 'password', name: 'displayName', sip: 'sipUrl', msrp: 'msrpUrl' };
  for (const [param, key] of Object.entries(map)) {
    const v = q.get(param);
    if (v !== null && v !== '') prefill[/** @type {keyof Settings} */ (key)] = /** @type {any} */ (v);
  }
  const contacts = (q.get('contacts') || '').split(',').map((s) => s.trim()).filter(Boolean);
  return {
    prefill,
    contacts,
    peer: (q.get('peer') || '').trim(),
    autoconnect: q.get('autoconnect') === '1' || q.get('autoconnect') === 'true',
    slot: (q.get('slot') || 'main').replace(/[^a-zA-Z0-9_-]/g, '').slice(0, 32) || 'main',
  };
}

/**
 * A small wrapper around localStorage that never throws (storage may be
 * disabled, full, or blocked in a sandboxed frame).
 */
export class Store {
  /** @param {string} slot namespace of this page instance */
  constructor(slot) {
    /** @private */
    this.prefix = `${STORAGE_PREFIX}.${slot}`;
  }

  /**
   * @param {string} key
   * @param {any} fallback
   * @returns {any}
   */
  get(key, fallback) {
    try {
      const raw = globalThis.localStorage?.getItem(`${this.prefix}.${key}`);
      return raw == null ? fallback : JSON.parse(raw);
    } catch {
      return fallback;
    }
  }

  /**
   * @param {string} key
   * @param {any} value
   */
  set(key, value) {
    try {
      globalThis.localStorage?.setItem(`${this.prefix}.${key}`, JSON.stringify(value));
    } catch {
      // Storage unavailable: settings simply do not persist.
    }
  }

  /** @param {string} key */
  remove(key) {
    try {
      globalThis.localStorage?.removeItem(`${this.prefix}.${key}`);
    } catch {
      // ignore
    }
  }

  /**
   * The settings to show in the login form: defaults, then what is stored,
   * then URL parameters (the most specific wins).
   * @param {Location|URL} loc
   * @param {Partial<Settings>} prefill
   * @returns {Settings}
   */
  loadSettings(loc, prefill) {
    const stored = this.get('settings', {});
    const s = { ...defaultSettings(loc), ...pick(stored), ...prefill };
    if (!s.sipUrl) s.sipUrl = originWsUrl(loc, '/sip');
    if (!s.msrpUrl) s.msrpUrl = originWsUrl(loc, '/msrp');
    return s;
  }

  /**
   * Keeps the settings; the password only when the user asked for it.
   * @param {Settings} s
   */
  saveSettings(s) {
    const keep = { ...s };
    if (!s.remember) keep.password = '';
    this.set('settings', keep);
  }

  /**
   * Contacts of one account.
   * @param {string} aor
   * @returns {{uri: string, name?: string}[]}
   */
  loadContacts(aor) {
    const list = this.get(`contacts.${aor}`, []);
    return Array.isArray(list) ? list.filter((c) => c && typeof c.uri === 'string') : [];
  }

  /**
   * @param {string} aor
   * @param {{uri: string, name?: string}[]} contacts
   */
  saveContacts(aor, contacts) {
    this.set(`contacts.${aor}`, contacts.map((c) => ({ uri: c.uri, name: c.name || '' })));
  }
}

/**
 * Only the known keys of a stored object, with the right types.
 * @param {any} o
 * @returns {Partial<Settings>}
 */
function pick(o) {
  /** @type {Partial<Settings>} */
  const out = {};
  if (!o || typeof o !== 'object') return out;
  for (const k of ['uri', 'password', 'displayName', 'sipUrl', 'msrpUrl']) {
    if (typeof o[k] === 'string') /** @type {any} */ (out)[k] = o[k];
  }
  if (typeof o.remember === 'boolean') out.remember = o.remember;
  return out;
}
