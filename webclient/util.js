// Small helpers shared by the library's modules.

/**
 * setTimeout that does not keep a Node.js process alive (browsers ignore it).
 * @param {() => void} fn
 * @param {number} ms
 * @returns {ReturnType<typeof setTimeout>}
 */
export function later(fn, ms) {
  const t = setTimeout(fn, ms);
  if (typeof t === 'object' && t && typeof t.unref === 'function') t.unref();
  return t;
}

/**
 * A promise with its resolve and reject functions.
 * @template T
 * @returns {{promise: Promise<T>, resolve: (v: T) => void, reject: (e: any) => void}}
 */
export function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/**
 * The address-of-record part of a SIP URI string, for comparing peers:
 * scheme, user and host, lower-cased host, no parameters or port.
 * @param {string} uri
 * @returns {string}
 */
export function aorOf(uri) {
  const s = String(uri).trim().replace(/^.*</, '').replace(/>.*$/, '');
  const m = /^(sips?|tel|im|pres):([^;?>]*)/i.exec(s);
  if (!m) return s.toLowerCase();
  let rest = m[2];
  const at = rest.lastIndexOf('@');
  let user = '', host = rest;
  if (at >= 0) { user = rest.slice(0, at); host = rest.slice(at + 1); }
  host = host.replace(/:\d+$/, '').toLowerCase();
  const scheme = m[1].toLowerCase() === 'sips' ? 'sip' : m[1].toLowerCase();
  return `${scheme}:${user ? user + '@' : ''}${host}`;
}
