// The collapsible raw SIP/MSRP log for integrators: every message the
// library sends or receives, newest last, each expandable to its full text.

import { h, timeElement } from './dom.js';

/** Oldest entries are dropped beyond this many, so a long session stays light. */
const MAX_ENTRIES = 500;
/** A body longer than this is cut in the view (file chunks are large). */
const MAX_TEXT = 4096;

/**
 * One logged message.
 * @typedef {object} LogEntry
 * @property {'SIP'|'MSRP'|'INFO'} protocol
 * @property {'in'|'out'|''} direction  "in" = received by the browser
 * @property {string} text               the raw message (or a note)
 * @property {Date} [time]
 */

/**
 * The log panel. Built around an existing <details data-testid="raw-log">.
 */
export class ProtocolLog {
  /** @param {HTMLDetailsElement} details */
  constructor(details) {
    /** @private */ this.details = details;
    /** @private */ this.list = /** @type {HTMLOListElement} */ (details.querySelector('ol'));
    /** @private */ this.count = /** @type {HTMLElement} */ (details.querySelector('[data-role="count"]'));
    /** @private */ this.total = 0;
    /** @private @type {Record<string, boolean>} */
    this.show = { SIP: true, MSRP: true, INFO: true };
    for (const box of details.querySelectorAll('input[type="checkbox"][data-protocol]')) {
      const input = /** @type {HTMLInputElement} */ (box);
      input.addEventListener('change', () => {
        this.show[input.dataset.protocol || ''] = input.checked;
        this.applyFilter();
      });
    }
    details.querySelector('[data-role="clear"]')?.addEventListener('click', () => this.clear());
    // Opening the panel shows the newest traffic.
    details.addEventListener('toggle', () => {
      if (details.open) this.list.scrollTop = this.list.scrollHeight;
    });
  }

  /**
   * Adds one message to the log.
   * @param {LogEntry} entry
   */
  add(entry) {
    const text = String(entry.text ?? '');
    const first = text.split(/\r?\n/, 1)[0] || '(empty)';
    const protocol = entry.protocol || 'INFO';
    const arrow = entry.direction === 'in' ? '←' : entry.direction === 'out' ? '→' : '·';
    const dirLabel = entry.direction === 'in' ? 'received' : entry.direction === 'out' ? 'sent' : 'note';
    const shown = text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}\n… (${text.length - MAX_TEXT} more characters)` : text;
    const item = h('li', { class: `log-entry log-${protocol.toLowerCase()}`, dataset: { protocol } },
      h('details', {},
        h('summary', {},
          timeElement(entry.time || new Date()),
          h('span', { class: `log-dir log-dir-${entry.direction || 'note'}`, title: dirLabel, 'aria-label': dirLabel, text: arrow }),
          h('span', { class: 'log-proto', text: protocol }),
          h('span', { class: 'log-first', text: first })),
        h('pre', { text: shown })));
    if (!this.show[protocol]) item.hidden = true;
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 24;
    this.list.append(item);
    while (this.list.childElementCount > MAX_ENTRIES) this.list.firstElementChild?.remove();
    this.total++;
    this.count.textContent = String(this.total);
    if (atBottom) this.list.scrollTop = this.list.scrollHeight;
  }

  /** Removes every entry. */
  clear() {
    this.list.replaceChildren();
    this.total = 0;
    this.count.textContent = '0';
  }

  /** @private */
  applyFilter() {
    for (const li of this.list.children) {
      const p = /** @type {HTMLElement} */ (li).dataset.protocol || 'INFO';
      /** @type {HTMLElement} */ (li).hidden = !this.show[p];
    }
  }
}
