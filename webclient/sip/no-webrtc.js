// Stands in for SIP.js's default (WebRTC) SessionDescriptionHandler factory in
// the bundle: the library always passes its own MSRP factory (sip/sdh.js), so
// the WebRTC code, and RTCPeerConnection with it, stays out of webclient.js.
// SIP.js calls this once for its default options; the factory it returns is
// never used.

/**
 * @returns {() => never}
 */
export function defaultSessionDescriptionHandlerFactory() {
  return () => {
    throw new Error('simplegw webclient: only MSRP sessions are supported (no WebRTC)');
  };
}
