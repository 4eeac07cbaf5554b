// Package sipua is a small SIP user agent for MSRP sessions: the softphone side of
// simplegw's tests and of the msrpcat tool. It registers an address-of-record at one
// proxy, answers and places INVITEs, and builds and reads the SDP that sets up an MSRP
// session. It speaks SIP over UDP, TCP or TLS to that one proxy, the way a softphone
// configured with an outbound proxy does; MSRP itself is package endpoint's job.
//
// It implements:
//
//   - RFC 3261 §8.1 and §8.2 requests and responses of a user agent: Via with a
//     z9hG4bK branch and the rport parameter of RFC 3581 §3, tags, Call-ID, CSeq,
//     Contact; unsupported Require gets 420 (§8.2.2.3), unknown methods 405 (§8.2.1).
//   - RFC 3261 §10.2 registration: REGISTER with one Contact, refreshed at half the
//     granted expiry with the same Call-ID and increasing CSeq (§10.2.4), the
//     interval taken from the 200's Contact or Expires, 423 answered with Min-Expires
//     (§10.2.8), and un-registration with Expires: 0 (§10.2.2).
//   - RFC 3261 §22.2 and §22.3 the client side of Digest: a 401 or 407 is answered by
//     resending the request (next CSeq, same Call-ID) with Authorization or
//     Proxy-Authorization from package auth's digest client (RFC 2617 §3.2.2, MD5,
//     qop=auth); a challenge for a realm already answered is answered again only when
//     it says stale=true. Credentials are not reused across requests: each refresh is
//     challenged afresh.
//   - RFC 3261 §12 dialogs (route set from Record-Route, remote target from Contact,
//     loose and strict routing of §12.2.1.1), §13 INVITE (the UAS retransmits its 2xx
//     from T1 doubling to T2 until the ACK comes, and ends the session with BYE after
//     64*T1 without one, §13.3.1.4; the UAC acknowledges every 2xx, and one from a
//     second fork is acknowledged and ended with BYE, §13.2.2.4), §9 CANCEL (sent only
//     after a provisional response, §9.1; a CANCEL received answers 200 and the INVITE
//     487, §9.2), §15 BYE.
//   - RFC 3261 §17 transactions: client retransmission by Timer A and E over UDP, Timer B
//     and F timeouts on every transport, the ACK of a non-2xx final response sent by the
//     transaction (§17.1.1.3) and repeated for each retransmission; server transactions
//     matched by branch, sent-by and method (§17.2.3), retransmitted requests answered
//     with the last response, non-2xx final responses to INVITE retransmitted by Timer G
//     until the ACK.
//   - RFC 3261 §18: UDP datagrams, and TCP or TLS streams framed by Content-Length;
//     responses go back to where their request came from (§18.2.2 with RFC 3581 §4).
//     RFC 5626 §4.4.1: a double-CRLF keepalive on a stream is answered with CRLF.
//   - RFC 4975 §8 and RFC 6135 §4.2 SDP for MSRP ([MSRPOffer], [AnswerMSRP],
//     [ReadMSRPAnswer]): m=message with TCP/MSRP or TCP/TLS/MSRP, a=path, a=accept-types,
//     a=setup deciding which side opens the connection, RFC 3264 §6 answers with one
//     media line per offered one. Offers and answers are checked with package sdp, which
//     also tolerates the legacy TCP/WS/MSRP and TCP/WSS/MSRP protos.
//
// Messages are built and parsed with sipgo's sip package; this package never parses
// SIP by hand.
//
// # Concurrency
//
// A [UA] has one goroutine reading its socket. It matches responses to client
// transactions, retransmitted requests, ACK, CANCEL and BYE on that goroutine, in
// arrival order, and starts one goroutine per new request that needs the application
// (Config.OnInvite). Every exported method is safe for concurrent use.
package sipua
