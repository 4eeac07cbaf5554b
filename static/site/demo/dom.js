// DOM and formatting helpers of the demo page. No framework: elements are
// built with h() and updated in place.

/**
 * Creates an element. Attributes: "class", "text" (textContent), "dataset"
 * (object), "on" (object of event listeners), booleans set or remove the
 * attribute, everything else goes through setAttribute. Children may be
 * strings, nodes, or null/false (skipped).
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node|string|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c);
  }
  return el;
}

/**
 * Looks up an element by its data-testid inside root; throws when missing,
 * so a broken page fails loudly instead of half-working.
 * @template {HTMLElement} T
 * @param {ParentNode} root
 * @param {string} id
 * @returns {T}
 */
export function byTestId(root, id) {
  const el = root.querySelector(`[data-testid="${id}"]`);
  if (!el) throw new Error(`demo page: missing element data-testid="${id}"`);
  return /** @type {T} */ (el);
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/**
 * A <time> element showing hours and minutes, with the full date as tooltip.
 * @param {Date} d
 * @returns {HTMLElement}
 */
export function timeElement(d) {
  return h('time', { datetime: d.toISOString(), title: fullFormat.format(d), text: timeFormat.format(d) });
}

/**
 * "20.0 MiB"-style sizes.
 * @param {number} n bytes
 * @returns {string}
 */
export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

/**
 * The address of record of a SIP URI, for use as a map key: no display
 * name, no angle brackets, no parameters, lower-case host.
 * @param {string} uri
 * @returns {string}
 */
export function aor(uri) {
  let s = String(uri || '').trim();
  const lt = s.indexOf('<');
  if (lt >= 0) s = s.slice(lt + 1, s.indexOf('>', lt) >= 0 ? s.indexOf('>', lt) : undefined);
  s = s.replace(/[;?].*$/, '');
  const m = /^(sips?):([^@]*@)?(.*)$/i.exec(s);
  if (!m) return s;
  const host = m[3].replace(/:\d+$/, '').toLowerCase();
  return `sip:${m[2] || ''}${host}`;
}

/**
 * Normalises what a user typed as a contact: "bob" becomes
 * "sip:bob@<domain>", "bob@example.com" gets the "sip:" scheme.
 * @param {string} input
 * @param {string} domain default domain (from the user's own URI)
 * @returns {string} "" when the input is not usable
 */
export function normaliseUri(input, domain) {
  let s = String(input || '').trim();
  if (!s) return '';
  if (/^sips?:/i.test(s)) return /\s/.test(s) ? '' : s;
  if (!s.includes('@')) {
    if (!domain || /\s/.test(s)) return '';
    s = `${s}@${domain}`;
  }
  if (/\s/.test(s)) return '';
  return `sip:${s}`;
}

/**
 * The user part of a SIP URI ("bob" for "sip:bob@localhost").
 * @param {string} uri
 * @returns {string}
 */
export function userPart(uri) {
  const m = /^sips?:([^@;?]+)@/i.exec(aor(uri));
  return m ? decodeURIComponent(m[1]) : aor(uri).replace(/^sips?:/i, '');
}

/**
 * The host part of a SIP URI.
 * @param {string} uri
 * @returns {string}
 */
export function hostPart(uri) {
  const a = aor(uri);
  const at = a.indexOf('@');
  return at >= 0 ? a.slice(at + 1) : a.replace(/^sips?:/i, '');
}

/**
 * Initials for an avatar ("Bob Smith" → "BS", "sip:bob@x" → "B").
 * @param {string} name
 * @returns {string}
 */
export function initials(name) {
  const words = String(name || '?').replace(/^sips?:/i, '').split(/[\s@._-]+/).filter(Boolean);
  const letters = words.slice(0, 2).map((w) => [...w][0].toUpperCase());
  return letters.join('') || '?';
}

/**
 * A stable hue (0–359) for an avatar colour.
 * @param {string} key
 * @returns {number}
 */
export function hueOf(key) {
  let x = 0;
  for (const ch of String(key)) x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return x % 360;
}

/**
 * The message of an error-like value, for showing to the user.
 * @param {any} err
 * @returns {string}
 */
export function errorText(err) {
  if (!err) return 'unknown error';
  if (typeof err === 'string') return err;
  return err.message || String(err);
}
