// Random identifiers for MSRP: transaction ids (RFC 4975 §7.1: at least 64 bits
// of randomness), Message-IDs (RFC 4975 §7.1.1), session-ids of path URIs
// (RFC 4975 §8.2: hard to guess) and ".invalid" host names (RFC 7977 §8.1.1,
// Appendix A). All come from crypto.getRandomValues.

const ALPHANUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const LOWER = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Returns n random characters of alphabet (rejection sampling, so every
 * character is equally likely).
 * @param {number} n
 * @param {string} [alphabet]
 * @returns {string}
 */
export function randomString(n, alphabet = ALPHANUM) {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < n) {
    const buf = new Uint8Array(n * 2);
    crypto.getRandomValues(buf);
    for (const b of buf) {
      if (b < limit) out += alphabet[b % alphabet.length];
      if (out.length === n) break;
    }
  }
  return out;
}

/**
 * A new transaction id: 16 alphanumerics, about 95 bits of randomness, within
 * the 4–32 characters of ident (RFC 4975 §9).
 * @returns {string}
 */
export function newTransactionId() {
  return randomString(16);
}

/**
 * A new Message-ID (RFC 4975 §7.1.1), also used as an IMDN Message-ID
 * (RFC 5438 §6.3 recommends at least 64 random bits): 20 alphanumerics.
 * @returns {string}
 */
export function newMessageId() {
  return randomString(20);
}

/**
 * A random host name under ".invalid" (RFC 7977 Appendix A, RFC 7118 §5.2):
 * browsers cannot learn their own address, and nobody dials these names.
 * @returns {string}
 */
export function newInvalidHost() {
  return randomString(12, LOWER) + '.invalid';
}
