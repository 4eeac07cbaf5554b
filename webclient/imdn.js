// Instant Message Disposition Notification (RFC 5438): the request headers an
// IM carries in its CPIM wrapper (§6, §7.1.1) and the message/imdn+xml
// notification document (§11).

import { parseXml, child, escapeXml } from './xml.js';
import { IMDN_NS, parseCpim, CPIM_TYPE, buildCpim } from './cpim.js';

export const IMDN_TYPE = 'message/imdn+xml';
/** XML namespace of the IMDN document (RFC 5438 §11.1). */
export const IMDN_XML_NS = 'urn:ietf:params:xml:ns:imdn';

/**
 * A disposition notification.
 * @typedef {object} Imdn
 * @property {string} messageId   Message-ID of the IM it is about
 * @property {string} datetime    DateTime of that IM
 * @property {string} [recipientUri]
 * @property {string} [originalRecipientUri]
 * @property {'delivery'|'display'|'processing'} kind
 * @property {string} status      delivered, failed, forbidden, error, displayed, processed, stored…
 */

const KINDS = { delivery: 'delivery-notification', display: 'display-notification', processing: 'processing-notification' };

/**
 * Builds a message/imdn+xml document (RFC 5438 §7.2.1.1, §7.2.1.2, §11).
 * @param {Imdn} n
 * @returns {string}
 */
export function buildImdn(n) {
  const el = KINDS[n.kind];
  if (!el) throw new Error(`unknown IMDN kind ${n.kind}`);
  if (!/^[a-z-]+$/.test(n.status)) throw new Error(`bad IMDN status ${n.status}`);
  let x = '<?xml version="1.0" encoding="UTF-8"?>\r\n';
  x += `<imdn xmlns="${IMDN_XML_NS}">\r\n`;
  x += ` <message-id>${escapeXml(n.messageId)}</message-id>\r\n`;
  x += ` <datetime>${escapeXml(n.datetime)}</datetime>\r\n`;
  if (n.recipientUri) x += ` <recipient-uri>${escapeXml(n.recipientUri)}</recipient-uri>\r\n`;
  if (n.originalRecipientUri) x += ` <original-recipient-uri>${escapeXml(n.originalRecipientUri)}</original-recipient-uri>\r\n`;
  x += ` <${el}><status><${n.status}/></status></${el}>\r\n`;
  x += '</imdn>\r\n';
  return x;
}

/**
 * Parses a message/imdn+xml document.
 * @param {string} xml
 * @returns {Imdn}
 * @throws {Error} when it is not an IMDN document
 */
export function parseImdn(xml) {
  const root = parseXml(xml);
  if (root.local !== 'imdn' || root.ns !== IMDN_XML_NS) throw new Error('not an IMDN document');
  const messageId = child(root, 'message-id', IMDN_XML_NS)?.text.trim();
  const datetime = child(root, 'datetime', IMDN_XML_NS)?.text.trim();
  if (!messageId) throw new Error('IMDN without <message-id>');
  for (const [kind, el] of Object.entries(KINDS)) {
    const k = child(root, el, IMDN_XML_NS);
    if (!k) continue;
    const status = child(k, 'status', IMDN_XML_NS)?.children[0]?.local;
    if (!status) throw new Error(`IMDN <${el}> without a <status>`);
    /** @type {Imdn} */
    const n = { messageId, datetime: datetime ?? '', kind: /** @type {Imdn['kind']} */ (kind), status };
    const r = child(root, 'recipient-uri', IMDN_XML_NS)?.text.trim();
    const o = child(root, 'original-recipient-uri', IMDN_XML_NS)?.text.trim();
    if (r) n.recipientUri = r;
    if (o) n.originalRecipientUri = o;
    return n;
  }
  throw new Error('IMDN without a notification element');
}

/**
 * The IMDN request of a received CPIM message (RFC 5438 §7.2.1): its
 * Message-ID, DateTime and the requested dispositions.
 * @param {import('./cpim.js').CpimMessage} cpim
 * @returns {{messageId: string, datetime: string, dispositions: string[]} | null} null when no IMDN is requested
 */
export function imdnRequest(cpim) {
  const messageId = cpim.get(IMDN_NS, 'Message-ID');
  const dn = cpim.get(IMDN_NS, 'Disposition-Notification');
  if (!messageId || !dn) return null;
  const dispositions = dn.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (!dispositions.length) return null;
  return { messageId, datetime: cpim.dateTime ?? '', dispositions };
}

/**
 * Whether a CPIM message is a disposition notification (RFC 5438 §7.1.2:
 * Content-Disposition "notification", content type message/imdn+xml).
 * @param {import('./cpim.js').CpimMessage} cpim
 * @returns {boolean}
 */
export function isImdn(cpim) {
  return cpim.contentType.split(';')[0].trim().toLowerCase() === IMDN_TYPE;
}

/**
 * Builds the CPIM-wrapped notification answering an IM (RFC 5438 §7.2.1.1).
 * @param {object} p
 * @param {import('./cpim.js').CpimAddress} p.from  the IM recipient (us)
 * @param {import('./cpim.js').CpimAddress} p.to    the IM sender
 * @param {string} p.messageId   new Message-ID of this notification
 * @param {Imdn} p.notification
 * @returns {{contentType: string, body: Uint8Array}}
 */
export function buildImdnMessage(p) {
  return {
    contentType: CPIM_TYPE,
    body: buildCpim({
      from: p.from,
      to: p.to,
      dateTime: new Date(),
      ns: { imdn: IMDN_NS },
      headers: [['imdn.Message-ID', p.messageId]],
      contentType: IMDN_TYPE,
      contentHeaders: [['Content-Disposition', 'notification']],
      body: buildImdn(p.notification),
    }),
  };
}

export { parseCpim };
