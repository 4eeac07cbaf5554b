// Presence Information Data Format (RFC 3863), as published with PUBLISH
// (RFC 3903) and received in NOTIFY for the presence event package (RFC 3856).

import { parseXml, child, children, attr, escapeXml } from './xml.js';

export const PIDF_TYPE = 'application/pidf+xml';
export const PIDF_NS = 'urn:ietf:params:xml:ns:pidf';

/**
 * Presence as the library sees it: basic status and a note.
 * @typedef {object} Presence
 * @property {string} entity      the presentity URI
 * @property {'open'|'closed'} status open when any tuple is open (RFC 3863 §4.1.4)
 * @property {string} [note]      the first <note>, of the document or of a tuple
 * @property {Array<{id: string, status: 'open'|'closed'|undefined, contact?: string, note?: string}>} tuples
 */

/**
 * Builds a PIDF document with one tuple (RFC 3863 §4).
 * @param {object} p
 * @param {string} p.entity   presentity URI (the SIP AOR is accepted; RFC 3863 allows any URI)
 * @param {'open'|'closed'} p.status
 * @param {string} [p.note]
 * @param {string} [p.contact]
 * @param {string} [p.tupleId]
 * @returns {string}
 */
export function buildPidf(p) {
  const id = p.tupleId ?? 't1';
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(id)) throw new Error(`bad PIDF tuple id ${id}`);
  let x = '<?xml version="1.0" encoding="UTF-8"?>\r\n';
  x += `<presence xmlns="${PIDF_NS}" entity="${escapeXml(p.entity)}">\r\n`;
  x += ` <tuple id="${id}">\r\n  <status><basic>${p.status === 'open' ? 'open' : 'closed'}</basic></status>\r\n`;
  if (p.contact) x += `  <contact>${escapeXml(p.contact)}</contact>\r\n`;
  x += ' </tuple>\r\n';
  if (p.note) x += ` <note>${escapeXml(p.note)}</note>\r\n`;
  x += '</presence>\r\n';
  return x;
}

/**
 * Parses a PIDF document.
 * @param {string} xml
 * @returns {Presence}
 */
export function parsePidf(xml) {
  const root = parseXml(xml);
  if (root.local !== 'presence' || root.ns !== PIDF_NS) throw new Error('not a PIDF document');
  const entity = attr(root, 'entity') ?? '';
  const tuples = children(root, 'tuple', PIDF_NS).map((t) => {
    const basic = child(child(t, 'status', PIDF_NS), 'basic', PIDF_NS)?.text.trim();
    /** @type {{id: string, status: 'open'|'closed'|undefined, contact?: string, note?: string}} */
    const out = { id: attr(t, 'id') ?? '', status: basic === 'open' ? 'open' : basic === 'closed' ? 'closed' : undefined };
    const contact = child(t, 'contact', PIDF_NS)?.text.trim();
    const note = child(t, 'note', PIDF_NS)?.text.trim();
    if (contact) out.contact = contact;
    if (note) out.note = note;
    return out;
  });
  const docNote = child(root, 'note', PIDF_NS)?.text.trim();
  /** @type {Presence} */
  const p = { entity, status: tuples.some((t) => t.status === 'open') ? 'open' : 'closed', tuples };
  const note = docNote || tuples.find((t) => t.note)?.note;
  if (note) p.note = note;
  return p;
}
