// Conference state (RFC 4575): the conference-info documents received in NOTIFY
// for "Event: conference" and a roster kept up to date from full and partial
// notifications (§4.6, §5.1, §5.6). The nickname attribute of RFC 6501, which
// RFC 7701 §7.4 recommends for chat rooms, is read when present.

import { parseXml, child, children, attr } from './xml.js';

export const CONFERENCE_INFO_TYPE = 'application/conference-info+xml';
export const CONFERENCE_NS = 'urn:ietf:params:xml:ns:conference-info';
const XCON_NS = 'urn:ietf:params:xml:ns:xcon-conference-info';

/**
 * A participant of the roster.
 * @typedef {object} Participant
 * @property {string} entity      the user's URI
 * @property {string} [displayText]
 * @property {string} [nickname]
 * @property {string} [status]    status of the first endpoint (connected, disconnected, …)
 */

/**
 * A parsed conference-info document (only what a chat client shows).
 * @typedef {object} ConferenceInfo
 * @property {string} entity   the conference URI
 * @property {'full'|'partial'|'deleted'} state
 * @property {number} version
 * @property {string} [subject]
 * @property {Array<Participant & {state: 'full'|'partial'|'deleted'}>} users
 */

function stateOf(v, dflt) {
  return v === 'full' || v === 'partial' || v === 'deleted' ? v : dflt;
}

/**
 * Parses a conference-info document.
 * @param {string} xml
 * @returns {ConferenceInfo}
 */
export function parseConferenceInfo(xml) {
  const root = parseXml(xml);
  if (root.local !== 'conference-info' || root.ns !== CONFERENCE_NS) throw new Error('not a conference-info document');
  const version = Number(attr(root, 'version'));
  if (!Number.isInteger(version) || version < 0) throw new Error('conference-info without a valid version');
  /** @type {ConferenceInfo} */
  const info = {
    entity: attr(root, 'entity') ?? '',
    state: stateOf(attr(root, 'state'), 'full'),
    version,
    users: [],
  };
  const subject = child(child(root, 'conference-description', CONFERENCE_NS), 'subject', CONFERENCE_NS)?.text.trim();
  if (subject) info.subject = subject;
  for (const u of children(child(root, 'users', CONFERENCE_NS), 'user', CONFERENCE_NS)) {
    const entity = attr(u, 'entity');
    if (!entity) continue;
    const user = { entity, state: stateOf(attr(u, 'state'), 'full') };
    const dt = child(u, 'display-text', CONFERENCE_NS)?.text.trim();
    const nick = attr(u, 'nickname', XCON_NS) ?? attr(u, 'nickname');
    const status = child(child(u, 'endpoint', CONFERENCE_NS), 'status', CONFERENCE_NS)?.text.trim();
    if (dt) user.displayText = dt;
    if (nick) user.nickname = nick;
    if (status) user.status = status;
    info.users.push(user);
  }
  return info;
}

/**
 * The roster of one conference, kept from its notifications (RFC 4575 §4.6:
 * a full document replaces the state; a partial one with the next version
 * updates it per user; a version gap means the state is unknown until the
 * next full document).
 */
export class Roster {
  constructor() {
    /** @type {Map<string, Participant>} */
    this.users = new Map();
    this.version = -1;
    this.subject = undefined;
  }

  /**
   * Applies a notification.
   * @param {ConferenceInfo} info
   * @returns {boolean} whether the roster changed (false for stale or out-of-sequence documents)
   */
  apply(info) {
    if (info.state === 'full') {
      if (info.version <= this.version && this.version >= 0) return false;
      this.users.clear();
    } else if (info.state === 'partial') {
      if (this.version < 0 || info.version !== this.version + 1) return false;
    } else {
      this.users.clear();
      this.version = info.version;
      return true;
    }
    this.version = info.version;
    if (info.subject !== undefined) this.subject = info.subject;
    for (const u of info.users) {
      if (u.state === 'deleted') {
        this.users.delete(u.entity);
        continue;
      }
      const prev = info.state === 'partial' && u.state === 'partial' ? this.users.get(u.entity) ?? {} : {};
      const { state, ...rest } = u;
      this.users.set(u.entity, { ...prev, ...rest });
    }
    return true;
  }

  /** @returns {Participant[]} */
  list() {
    return [...this.users.values()];
  }
}
