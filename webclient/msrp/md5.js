// MD5 message digest (RFC 1321), for HTTP Digest authentication of MSRP AUTH
// requests (RFC 4976 §9.1, RFC 2617 §3.2.2). Browsers' SubtleCrypto offers no
// MD5, so the library carries this small implementation. It is not used for
// anything that needs collision resistance.

const encoder = new TextEncoder();

// Per-round left-rotation amounts (RFC 1321 §3.4).
const S = [
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
  5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];

// T[i] = floor(abs(sin(i + 1)) * 2^32) (RFC 1321 §3.4).
const T = new Uint32Array(64);
for (let i = 0; i < 64; i++) T[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 0x100000000) >>> 0;

/**
 * Computes the MD5 digest of data.
 * @param {string | Uint8Array} data text (encoded as UTF-8) or bytes
 * @returns {Uint8Array} the 16-byte digest
 */
export function md5(data) {
  const msg = typeof data === 'string' ? encoder.encode(data) : data;
  // Padding (RFC 1321 §3.1, §3.2): a 1 bit, zeros to 56 mod 64 bytes, then the
  // bit length as a 64-bit little-endian number.
  const n = msg.length;
  const padded = new Uint8Array(((n + 8) >>> 6) * 64 + 64);
  padded.set(msg);
  padded[n] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = n * 8;
  view.setUint32(padded.length - 8, bits >>> 0, true);
  view.setUint32(padded.length - 4, Math.floor(bits / 0x100000000) >>> 0, true);

  let a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe, d0 = 0x10325476;
  const X = new Uint32Array(16);
  for (let off = 0; off < padded.length; off += 64) {
    for (let j = 0; j < 16; j++) X[j] = view.getUint32(off + j * 4, true);
    let a = a0, b = b0, c = c0, d = d0;
    for (let i = 0; i < 64; i++) {
      let f, g;
      if (i < 16) { f = (b & c) | (~b & d); g = i; }
      else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
      else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) & 15; }
      else { f = c ^ (b | ~d); g = (7 * i) & 15; }
      const sum = (a + f + T[i] + X[g]) >>> 0;
      a = d; d = c; c = b;
      b = (b + ((sum << S[i]) | (sum >>> (32 - S[i])))) >>> 0;
    }
    a0 = (a0 + a) >>> 0; b0 = (b0 + b) >>> 0; c0 = (c0 + c) >>> 0; d0 = (d0 + d) >>> 0;
  }
  const out = new Uint8Array(16);
  const ov = new DataView(out.buffer);
  ov.setUint32(0, a0, true); ov.setUint32(4, b0, true); ov.setUint32(8, c0, true); ov.setUint32(12, d0, true);
  return out;
}

/**
 * Computes the MD5 digest of data as 32 lower-case hex digits.
 * @param {string | Uint8Array} data
 * @returns {string}
 */
export function md5Hex(data) {
  let s = '';
  for (const byte of md5(data)) s += byte.toString(16).padStart(2, '0');
  return s;
}
