// Reassembly of one incoming MSRP message from its chunks (RFC 4975 §7.3.1):
// chunks may arrive in any order, may overlap (the chunk received last wins),
// may be shorter than their Byte-Range says (the body's own length counts),
// and the chunk whose end-line flag is "$" fixes the total length.

/**
 * Collects the chunks of one message.
 *
 * Received data is kept as a sorted list of disjoint pieces, each a view of a
 * chunk body, so overlapping data costs no copies until the message is
 * assembled.
 */
export class Reassembler {
  /**
   * @param {object} [opts]
   * @param {number} [opts.maxSize] largest message accepted, in bytes
   */
  constructor(opts = {}) {
    this.maxSize = opts.maxSize ?? Number.MAX_SAFE_INTEGER;
    /** @type {Array<{start: number, data: Uint8Array}>} start is 0-based */
    this.pieces = [];
    /** @type {number|null} total length, once known */
    this.total = null;
    this.received = 0;
    this.ended = false;
  }

  /**
   * Adds one chunk.
   * @param {number} rangeStart Byte-Range start (1-based)
   * @param {Uint8Array} data the chunk body
   * @param {'$'|'+'} flag the end-line flag
   * @param {number|null} [declaredTotal] Byte-Range total, when not "*"
   * @returns {{ok: true} | {ok: false, reason: string}} not ok when the chunk is
   *   inconsistent with what arrived before or exceeds maxSize (the caller
   *   answers 413 or 400)
   */
  add(rangeStart, data, flag, declaredTotal = null) {
    const start = rangeStart - 1;
    const end = start + data.length;
    if (start < 0) return { ok: false, reason: 'Byte-Range start must be at least 1' };
    if (declaredTotal !== null && declaredTotal !== undefined) {
      if (declaredTotal > this.maxSize) return { ok: false, reason: 'message too large' };
      if (this.total === null) this.total = declaredTotal;
    }
    if (end > this.maxSize) return { ok: false, reason: 'message too large' };
    if (flag === '$') {
      // RFC 4975 §7.3.1: the "$" chunk defines the total length.
      this.total = end;
      this.ended = true;
    }
    if (this.total !== null && end > this.total) return { ok: false, reason: 'chunk extends past the total length' };
    if (data.length > 0) this.insert(start, data);
    return { ok: true };
  }

  insert(start, data) {
    const end = start + data.length;
    const out = [];
    let i = 0;
    const ps = this.pieces;
    // Pieces entirely before the new one.
    while (i < ps.length && ps[i].start + ps[i].data.length <= start) out.push(ps[i++]);
    // Overlapping pieces lose the overlapped bytes (the newest chunk wins).
    const tail = [];
    while (i < ps.length && ps[i].start < end) {
      const p = ps[i++];
      const pEnd = p.start + p.data.length;
      this.received -= p.data.length;
      if (p.start < start) {
        const keep = p.data.subarray(0, start - p.start);
        out.push({ start: p.start, data: keep });
        this.received += keep.length;
      }
      if (pEnd > end) {
        const keep = p.data.subarray(end - p.start);
        tail.push({ start: end, data: keep });
        this.received += keep.length;
      }
    }
    out.push({ start, data });
    this.received += data.length;
    for (const t of tail) out.push(t);
    while (i < ps.length) out.push(ps[i++]);
    this.pieces = out;
  }

  /** @returns {boolean} true once the "$" chunk arrived and every byte before it */
  get complete() {
    return this.ended && this.total !== null && this.received === this.total;
  }

  /**
   * The byte ranges received so far, 1-based and inclusive, merged.
   * @returns {Array<[number, number]>}
   */
  ranges() {
    const r = [];
    for (const p of this.pieces) {
      const s = p.start + 1;
      const e = p.start + p.data.length;
      if (r.length && r[r.length - 1][1] + 1 === s) r[r.length - 1][1] = e;
      else r.push([s, e]);
    }
    return r;
  }

  /**
   * The whole message as one array (for text and small bodies).
   * @returns {Uint8Array}
   */
  bytes() {
    const out = new Uint8Array(this.total ?? this.received);
    for (const p of this.pieces) out.set(p.data, p.start);
    return out;
  }

  /**
   * The whole message as a Blob (for files), without copying it into one array.
   * @param {string} [type]
   * @returns {Blob}
   */
  blob(type = '') {
    return new Blob(this.pieces.map((p) => p.data), { type });
  }
}

/**
 * The union of acknowledged byte ranges of an outgoing message, fed by success
 * REPORTs (RFC 4975 §7.1.3: a report covers a range of bytes, not a chunk).
 */
export class RangeSet {
  constructor() {
    /** @type {Array<[number, number]>} inclusive, 1-based, sorted, disjoint */
    this.ranges = [];
  }

  /**
   * Adds [start, end] (inclusive, 1-based).
   * @param {number} start
   * @param {number} end
   */
  add(start, end) {
    if (end < start) return;
    const out = [];
    let s = start, e = end, placed = false;
    for (const [a, b] of this.ranges) {
      if (b + 1 < s) out.push([a, b]);
      else if (e + 1 < a) {
        if (!placed) { out.push([s, e]); placed = true; }
        out.push([a, b]);
      } else {
        s = Math.min(s, a);
        e = Math.max(e, b);
      }
    }
    if (!placed) out.push([s, e]);
    out.sort((x, y) => x[0] - y[0]);
    this.ranges = out;
  }

  /** @returns {number} how many bytes are covered */
  get size() {
    let n = 0;
    for (const [a, b] of this.ranges) n += b - a + 1;
    return n;
  }

  /**
   * @param {number} total
   * @returns {boolean} whether 1..total is covered
   */
  covers(total) {
    if (total === 0) return true;
    return this.ranges.length > 0 && this.ranges[0][0] <= 1 && this.ranges[0][1] >= total;
  }
}
