// The contact list in the sidebar: one button per contact, with avatar,
// presence dot, last line or typing state, and an unread counter.

import { h, aor, userPart, initials, hueOf } from './dom.js';

/**
 * What the list shows for one contact.
 * @typedef {object} ContactView
 * @property {string} uri       address of record ("sip:bob@localhost")
 * @property {string} name      display name, or the user part of the URI
 * @property {string} presence  "open" | "away" | "busy" | "closed" | "unknown"
 * @property {string} note      presence note or last message preview
 * @property {boolean} composing
 * @property {number} unread
 */

const PRESENCE_LABEL = /** @type {Record<string, string>} */ ({
  open: 'available',
  away: 'away',
  busy: 'busy',
  closed: 'offline',
  unknown: 'presence unknown',
});

/** Renders and updates the sidebar's contact list. */
export class ContactList {
  /**
   * @param {HTMLUListElement} list   the <ul data-testid="contact-list">
   * @param {HTMLElement} emptyNote   shown while the list is empty
   * @param {(uri: string) => void} onSelect
   */
  constructor(list, emptyNote, onSelect) {
    /** @private */ this.list = list;
    /** @private */ this.emptyNote = emptyNote;
    /** @private */ this.onSelect = onSelect;
    /** @private @type {Map<string, {view: ContactView, li: HTMLLIElement}>} */
    this.rows = new Map();
    /** @private */ this.selected = '';
    list.addEventListener('keydown', (e) => this.onKey(e));
  }

  /**
   * Adds a contact, or returns the existing one.
   * @param {string} uri
   * @param {string} [name]
   * @returns {ContactView}
   */
  ensure(uri, name) {
    const key = aor(uri);
    const row = this.rows.get(key);
    if (row) {
      if (name && row.view.name !== name) {
        row.view.name = name;
        this.render(key);
      }
      return row.view;
    }
    /** @type {ContactView} */
    const view = { uri: key, name: name || userPart(key), presence: 'unknown', note: key, composing: false, unread: 0 };
    const li = /** @type {HTMLLIElement} */ (h('li'));
    this.rows.set(key, { view, li });
    this.list.append(li);
    this.render(key);
    this.emptyNote.hidden = true;
    return view;
  }

  /** @returns {ContactView[]} */
  all() {
    return [...this.rows.values()].map((r) => r.view);
  }

  /**
   * Changes fields of a contact and redraws its row.
   * @param {string} uri
   * @param {Partial<ContactView>} patch
   */
  update(uri, patch) {
    const key = aor(uri);
    const row = this.rows.get(key);
    if (!row) return;
    Object.assign(row.view, patch);
    this.render(key);
  }

  /**
   * Marks a contact as the open conversation.
   * @param {string} uri
   */
  select(uri) {
    this.selected = aor(uri);
    for (const [key, row] of this.rows) {
      const btn = row.li.querySelector('button');
      if (btn) btn.setAttribute('aria-current', key === this.selected ? 'true' : 'false');
    }
  }

  /** Removes every contact. */
  clear() {
    this.rows.clear();
    this.list.replaceChildren();
    this.emptyNote.hidden = false;
    this.selected = '';
  }

  /**
   * @private
   * @param {string} key
   */
  render(key) {
    const row = this.rows.get(key);
    if (!row) return;
    const v = row.view;
    const presence = PRESENCE_LABEL[v.presence] ? v.presence : 'unknown';
    const sub = v.composing ? 'typing…' : v.note || v.uri;
    const label = `${v.name}, ${PRESENCE_LABEL[presence]}${v.unread ? `, ${v.unread} unread` : ''}`;
    const btn = h('button', {
      type: 'button',
      class: 'contact',
      'data-testid': 'contact',
      'data-uri': v.uri,
      'data-presence': presence,
      'aria-current': key === this.selected ? 'true' : 'false',
      'aria-label': label,
      on: { click: () => this.onSelect(v.uri) },
    },
    h('span', { class: 'avatar', style: `--hue:${hueOf(v.uri)}`, 'aria-hidden': 'true' },
      initials(v.name),
      h('span', { class: 'presence-dot', 'data-testid': 'presence-dot', 'data-presence': presence, title: PRESENCE_LABEL[presence] })),
    h('span', { class: 'contact-text' },
      h('span', { class: 'contact-name', text: v.name }),
      h('span', { class: `contact-sub${v.composing ? ' composing' : ''}`, text: sub })),
    v.unread ? h('span', { class: 'unread', 'data-testid': 'unread', text: String(v.unread) }) : null);
    const hadFocus = row.li.contains(document.activeElement);
    row.li.replaceChildren(btn);
    if (hadFocus) btn.focus();
  }

  /**
   * Arrow keys move between contacts (the buttons are already in the tab
   * order; this is a shortcut for long lists).
   * @private
   * @param {KeyboardEvent} e
   */
  onKey(e) {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const buttons = /** @type {HTMLButtonElement[]} */ ([...this.list.querySelectorAll('button.contact')]);
    const i = buttons.indexOf(/** @type {HTMLButtonElement} */ (document.activeElement));
    if (i < 0) return;
    const next = buttons[e.key === 'ArrowDown' ? Math.min(i + 1, buttons.length - 1) : Math.max(i - 1, 0)];
    next.focus();
    e.preventDefault();
  }
}
