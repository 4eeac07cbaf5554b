// A small, strict, non-validating XML 1.0 reader and writer helpers for the
// XML documents the library exchanges: PIDF (RFC 3863), IMDN (RFC 5438 §11),
// is-composing (RFC 3994 §6) and conference-info (RFC 4575 §5). Browsers have
// DOMParser and Node has none, so one parser serves both and is what the tests
// exercise. Namespaces are resolved (XML Namespaces 1.0); DTDs with internal
// subsets are refused, so no entity expansion can be abused.

/**
 * An element of a parsed document.
 * @typedef {object} XmlElement
 * @property {string} name       qualified name as written
 * @property {string} local      local name
 * @property {string} ns         namespace URI ("" when none)
 * @property {Record<string, string>} attrs attributes by qualified name
 * @property {Array<{local: string, ns: string, value: string}>} nsAttrs attributes with resolved namespaces
 * @property {XmlElement[]} children child elements
 * @property {string} text       concatenated character data directly inside
 */

/** Malformed XML. */
export class XmlError extends Error {
  constructor(message) {
    super(message);
    this.name = 'XmlError';
  }
}

const NAME_RE = /^[A-Za-z_\u00C0-\uFFFF][A-Za-z0-9_.\-\u00B7\u00C0-\uFFFF]*(?::[A-Za-z_\u00C0-\uFFFF][A-Za-z0-9_.\-\u00B7\u00C0-\uFFFF]*)?$/;
const MAX_DEPTH = 64;

function decodeEntity(e, where) {
  switch (e) {
    case 'lt': return '<';
    case 'gt': return '>';
    case 'amp': return '&';
    case 'quot': return '"';
    case 'apos': return "'";
  }
  let cp = NaN;
  if (/^#x[0-9a-fA-F]{1,6}$/.test(e)) cp = parseInt(e.slice(2), 16);
  else if (/^#[0-9]{1,7}$/.test(e)) cp = parseInt(e.slice(1), 10);
  if (!Number.isFinite(cp) || cp > 0x10ffff || cp === 0) throw new XmlError(`bad reference &${e}; in ${where}`);
  return String.fromCodePoint(cp);
}

function decodeEntities(s, where) {
  let out = '';
  let last = 0;
  for (let i = s.indexOf('&'); i >= 0; i = s.indexOf('&', last)) {
    const semi = s.indexOf(';', i);
    if (semi < 0 || semi - i > 12) throw new XmlError(`unescaped "&" in ${where}`);
    out += s.slice(last, i) + decodeEntity(s.slice(i + 1, semi), where);
    last = semi + 1;
  }
  return out + s.slice(last);
}

/**
 * Parses an XML document.
 * @param {string} src
 * @returns {XmlElement} the root element
 * @throws {XmlError}
 */
export function parseXml(src) {
  let i = 0;
  const n = src.length;
  if (src.charCodeAt(0) === 0xfeff) i = 1;
  /** @type {XmlElement|null} */
  let root = null;
  /** @type {Array<{el: XmlElement, scope: Record<string, string>}>} */
  const stack = [];

  const skipMisc = () => {
    for (;;) {
      while (i < n && /\s/.test(src[i])) i++;
      if (src.startsWith('<?', i)) {
        const e = src.indexOf('?>', i + 2);
        if (e < 0) throw new XmlError('unterminated processing instruction');
        i = e + 2;
      } else if (src.startsWith('<!--', i)) {
        const e = src.indexOf('-->', i + 4);
        if (e < 0) throw new XmlError('unterminated comment');
        i = e + 3;
      } else if (src.startsWith('<!DOCTYPE', i)) {
        const e = src.indexOf('>', i);
        if (e < 0) throw new XmlError('unterminated DOCTYPE');
        if (src.slice(i, e).includes('[')) throw new XmlError('DOCTYPE with an internal subset is not accepted');
        i = e + 1;
      } else return;
    }
  };

  skipMisc();
  while (i < n) {
    if (stack.length === 0 && root) {
      skipMisc();
      if (i < n) throw new XmlError('content after the root element');
      break;
    }
    if (src[i] !== '<') {
      if (stack.length === 0) throw new XmlError('text outside the root element');
      const e = src.indexOf('<', i);
      const raw = src.slice(i, e < 0 ? n : e);
      if (raw.includes(']]>')) throw new XmlError('"]]>" in character data');
      stack[stack.length - 1].el.text += decodeEntities(raw, 'text');
      i = e < 0 ? n : e;
      continue;
    }
    if (src.startsWith('<!--', i)) {
      const e = src.indexOf('-->', i + 4);
      if (e < 0) throw new XmlError('unterminated comment');
      i = e + 3;
      continue;
    }
    if (src.startsWith('<![CDATA[', i)) {
      if (stack.length === 0) throw new XmlError('CDATA outside the root element');
      const e = src.indexOf(']]>', i + 9);
      if (e < 0) throw new XmlError('unterminated CDATA section');
      stack[stack.length - 1].el.text += src.slice(i + 9, e);
      i = e + 3;
      continue;
    }
    if (src.startsWith('<?', i)) {
      const e = src.indexOf('?>', i + 2);
      if (e < 0) throw new XmlError('unterminated processing instruction');
      i = e + 2;
      continue;
    }
    if (src.startsWith('<!', i)) throw new XmlError('unexpected markup declaration');
    if (src[i + 1] === '/') {
      const e = src.indexOf('>', i);
      if (e < 0) throw new XmlError('unterminated end tag');
      const name = src.slice(i + 2, e).trim();
      const top = stack.pop();
      if (!top || top.el.name !== name) throw new XmlError(`end tag </${name}> does not match <${top ? top.el.name : ''}>`);
      i = e + 1;
      continue;
    }
    // Start tag.
    i++;
    const nameStart = i;
    while (i < n && !/[\s/>]/.test(src[i])) i++;
    const name = src.slice(nameStart, i);
    if (!NAME_RE.test(name)) throw new XmlError(`bad element name ${JSON.stringify(name)}`);
    const attrs = Object.create(null);
    let selfClosing = false;
    for (;;) {
      while (i < n && /\s/.test(src[i])) i++;
      if (i >= n) throw new XmlError(`unterminated start tag <${name}>`);
      if (src[i] === '>') { i++; break; }
      if (src[i] === '/' && src[i + 1] === '>') { i += 2; selfClosing = true; break; }
      const an = i;
      while (i < n && !/[\s=/>]/.test(src[i])) i++;
      const aname = src.slice(an, i);
      if (!NAME_RE.test(aname)) throw new XmlError(`bad attribute name ${JSON.stringify(aname)}`);
      while (i < n && /\s/.test(src[i])) i++;
      if (src[i] !== '=') throw new XmlError(`attribute ${aname} has no value`);
      i++;
      while (i < n && /\s/.test(src[i])) i++;
      const q = src[i];
      if (q !== '"' && q !== "'") throw new XmlError(`attribute ${aname} value is not quoted`);
      const e = src.indexOf(q, i + 1);
      if (e < 0) throw new XmlError(`unterminated value of attribute ${aname}`);
      const rawValue = src.slice(i + 1, e);
      if (rawValue.includes('<')) throw new XmlError(`"<" in value of attribute ${aname}`);
      if (aname in attrs) throw new XmlError(`repeated attribute ${aname}`);
      attrs[aname] = decodeEntities(rawValue, `attribute ${aname}`).replace(/[\t\n\r]/g, ' ');
      i = e + 1;
    }
    const parentScope = stack.length ? stack[stack.length - 1].scope : { xml: 'http://www.w3.org/XML/1998/namespace' };
    const scope = Object.create(parentScope);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'xmlns') scope[''] = v;
      else if (k.startsWith('xmlns:')) scope[k.slice(6)] = v;
    }
    const resolve = (qname, isAttr) => {
      const c = qname.indexOf(':');
      if (c < 0) return { local: qname, ns: isAttr ? '' : (scope[''] ?? '') };
      const prefix = qname.slice(0, c);
      const ns = scope[prefix];
      if (ns === undefined) throw new XmlError(`undeclared namespace prefix ${prefix}`);
      return { local: qname.slice(c + 1), ns };
    };
    const { local, ns } = resolve(name, false);
    const nsAttrs = [];
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'xmlns' || k.startsWith('xmlns:')) continue;
      nsAttrs.push({ ...resolve(k, true), value: v });
    }
    /** @type {XmlElement} */
    const el = { name, local, ns, attrs, nsAttrs, children: [], text: '' };
    if (stack.length) stack[stack.length - 1].el.children.push(el);
    else if (root) throw new XmlError('more than one root element');
    else root = el;
    if (!selfClosing) {
      if (stack.length >= MAX_DEPTH) throw new XmlError('elements nested too deeply');
      stack.push({ el, scope });
    }
  }
  if (!root) throw new XmlError('no root element');
  if (stack.length) throw new XmlError(`unclosed element <${stack[stack.length - 1].el.name}>`);
  return root;
}

/**
 * The first child element of el with the given local name and namespace.
 * @param {XmlElement|undefined} el
 * @param {string} local
 * @param {string} [ns] namespace; any namespace when omitted
 * @returns {XmlElement|undefined}
 */
export function child(el, local, ns) {
  return el?.children.find((c) => c.local === local && (ns === undefined || c.ns === ns));
}

/**
 * All child elements of el with the given local name and namespace.
 * @param {XmlElement|undefined} el
 * @param {string} local
 * @param {string} [ns]
 * @returns {XmlElement[]}
 */
export function children(el, local, ns) {
  return el ? el.children.filter((c) => c.local === local && (ns === undefined || c.ns === ns)) : [];
}

/**
 * The value of an attribute by local name and namespace ("" for unprefixed).
 * @param {XmlElement|undefined} el
 * @param {string} local
 * @param {string} [ns]
 * @returns {string|undefined}
 */
export function attr(el, local, ns = '') {
  return el?.nsAttrs.find((a) => a.local === local && a.ns === ns)?.value;
}

/**
 * Escapes text for element content or a double-quoted attribute value.
 * @param {string} s
 * @returns {string}
 */
export function escapeXml(s) {
  return String(s).replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]);
}
