// The SessionDescriptionHandler that SIP.js 0.21.2 drives during INVITE offer/
// answer. It produces and consumes MSRP SDP (RFC 4975 §8) through an MsrpCall
// and never touches WebRTC: there is no RTCPeerConnection anywhere.

/**
 * The part of a call the handler drives.
 * @typedef {object} OfferAnswer
 * @property {() => Promise<string>} makeOffer
 * @property {(sdp: string) => Promise<void>} setRemoteAnswer
 * @property {(sdp: string) => Promise<void>} setRemoteOffer
 * @property {() => Promise<string>} makeAnswer
 * @property {() => void} sdhClosed
 */

/**
 * Implements SIP.js's SessionDescriptionHandler interface for MSRP.
 *
 * SIP.js calls getDescription for a local offer or, after setDescription of a
 * remote offer, for the local answer; setDescription gets the remote offer or
 * the answer to our offer. Which one it is follows from whether our offer is
 * outstanding (RFC 3264 §4).
 */
export class MsrpSessionDescriptionHandler {
  /** @param {OfferAnswer} call */
  constructor(call) {
    this.call = call;
    this.localOfferOutstanding = false;
    this.remoteOfferPending = false;
  }

  /**
   * @returns {Promise<{body: string, contentType: string}>}
   */
  async getDescription() {
    let body;
    if (this.remoteOfferPending) {
      body = await this.call.makeAnswer();
      this.remoteOfferPending = false;
    } else {
      body = await this.call.makeOffer();
      this.localOfferOutstanding = true;
    }
    return { body, contentType: 'application/sdp' };
  }

  /**
   * @param {string} contentType
   * @returns {boolean}
   */
  hasDescription(contentType) {
    const t = String(contentType).toLowerCase();
    const base = t.split(';')[0].trim();
    // RFC 5547 §9.1 offers may come as multipart/related with the SDP inside.
    return base === 'application/sdp' || (base === 'multipart/related' && t.includes('application/sdp'));
  }

  /**
   * @param {string} sdp
   * @returns {Promise<void>}
   */
  async setDescription(body) {
    const sdp = extractSdp(body);
    if (this.localOfferOutstanding) {
      this.localOfferOutstanding = false;
      await this.call.setRemoteAnswer(sdp);
    } else {
      this.remoteOfferPending = true;
      await this.call.setRemoteOffer(sdp);
    }
  }

  /** Forgets an offer that was not answered (RFC 3264 §4 glare, SIP.js rollback). */
  async rollbackDescription() {
    this.localOfferOutstanding = false;
    this.remoteOfferPending = false;
  }

  /** @returns {boolean} MSRP sessions carry no DTMF */
  sendDtmf() {
    return false;
  }

  close() {
    this.call.sdhClosed();
  }
}

/**
 * A SIP.js SessionDescriptionHandlerFactory that finds the call of each SIP.js
 * session in a WeakMap filled by the client before invite() or accept().
 * @param {WeakMap<object, OfferAnswer>} calls
 * @returns {(session: object) => MsrpSessionDescriptionHandler}
 */
export function sdhFactory(calls) {
  return (session) => {
    const call = calls.get(session);
    if (!call) throw new Error('no MSRP call for this SIP session');
    return new MsrpSessionDescriptionHandler(call);
  };
}

/**
 * The SDP of a body: the body itself, or the application/sdp part of a
 * multipart body (RFC 5547 §9.1 puts a file icon beside the SDP).
 * @param {string} body
 * @returns {string}
 */
export function extractSdp(body) {
  if (/^\s*v=/.test(body)) return body;
  const m = /--([^\r\n]+)\r?\n/.exec(body);
  if (!m) return body;
  for (const part of body.split('--' + m[1])) {
    const sep = part.search(/\r?\n\r?\n/);
    if (sep < 0) continue;
    if (/content-type:\s*application\/sdp/i.test(part.slice(0, sep))) {
      return part.slice(sep).replace(/^\r?\n\r?\n/, '').replace(/\r?\n$/, '');
    }
  }
  return body;
}
