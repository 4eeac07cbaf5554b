// Package sipedge is simplegw's SIP edge: the proxy that browsers reach over
// SIP-over-WebSocket, and, when no SIP core is configured, the registrar,
// proxy and presence server of its own domain.
//
// It implements:
//
//   - RFC 7118: the WebSocket transport for SIP. One SIP message per
//     WebSocket message in text or binary frames (§4.2, §5); answers go out
//     as text frames unless the message is not UTF-8; "received" is not added
//     to Vias of WebSocket clients (§5.3), whose ".invalid" Via and Contact
//     hosts are never dialled: requests reach a browser over its connection.
//   - RFC 3261 §16: a stateful, forking proxy (validation §16.3, route
//     preprocessing §16.4, forwarding §16.6, response selection §16.7,
//     CANCEL §16.10, stateless ACK for 2xx §16.11), §17 transactions (run by
//     sipgo's ServerTx/ClientTx state machines) and §18.2.1 Via
//     received/rport (with RFC 3581) on UDP, TCP and TLS.
//   - RFC 5626 spirit: every WebSocket, inbound TCP and TLS connection is a
//     flow named by a 128-bit random flow token; a request whose Route ends
//     at a token goes to that connection or gets 430 Flow Failed (§5.3) at
//     once when the connection is gone; double-CRLF keepalives are answered
//     with CRLF (§3.5.1, §4.4.1).
//   - RFC 5658 §5: double Record-Route. A dialog-creating request gets two
//     Record-Route entries, the top one naming the edge as seen from the next
//     hop, the second as seen from the previous hop; each carries the flow
//     token of the side it faces, so in-dialog requests from either side are
//     routed by connection. Both entries are popped when they come back.
//   - RFC 3327: a Path header with the flow token on REGISTER forwarded to an
//     upstream registrar, so that the core routes requests for the browser
//     back through its connection.
//   - Embedded mode (no upstream), RFC 3261 §10.3 registrar with digest
//     authentication (bridge/auth, RFC 3261 §22), several contacts per AOR
//     forked in parallel, RFC 5626 instance/reg-id binding keys; requests to
//     foreign domains or IP hosts are proxied out over UDP, TCP or TLS to the
//     numeric host (RFC 3263 §4 for numeric addresses; names get a plain A
//     lookup, no NAPTR/SRV).
//   - Embedded presence: RFC 3903 PUBLISH (SIP-ETag / SIP-If-Match, refresh,
//     modify, remove), RFC 3856 / RFC 6665 SUBSCRIBE with Event: presence,
//     NOTIFY carrying the RFC 3863 PIDF document on subscribe, on change, on
//     publication expiry and at subscription end.
//
// Admission (embedded mode; RFC 3261 §26.3.2.2, §26.3.2.4, RFC 3428 §11.1).
// A flow is authenticated when it holds a live registration (with digest
// configured, a REGISTER that passed the challenge). The edge refuses with
// 403 instead of challenging, since clients authenticate once, by REGISTER:
//
//   - Relaying: a request whose next hop is a preloaded Route other than the
//     edge's own, or a foreign or numeric Request-URI that is not a local
//     user's registered contact, is forwarded only from an authenticated
//     flow; otherwise 403 "Forbidden: relaying requires a registered client".
//     A 2xx ACK that would relay so is dropped. Requests routed by an edge
//     flow token toward another flow (in-dialog, RFC 5658) and requests to a
//     registered contact are not relaying.
//   - From: a MESSAGE, INVITE, SUBSCRIBE, PUBLISH, OPTIONS or REFER without
//     a To tag whose From is a user of the local domain is forwarded only
//     from a flow holding a binding of that very AOR; otherwise 403 "From
//     does not match the sender's registration". Foreign From URIs are not
//     checked. Requests the edge serves itself (REGISTER, OPTIONS to the
//     domain, presence PUBLISH and SUBSCRIBE, which authorize on their own)
//     are not subject to this rule.
//
// Without digest the same rules hold, registration being unauthenticated.
// Over UDP a flow is a source address, which can be forged. In upstream mode
// the core applies policy; the edge only keeps clients from bypassing it: a
// client's preloaded Route other than the edge's own is removed unless it
// names the core, so the request goes to the core.
//
// Ordering: each connection has one reader and one writer goroutine. What
// arrives on a connection is handled in arrival order on its reader, and a
// response is handed to sipgo's client transaction and on to the upstream
// server transaction before the next message on that connection is read, so
// what leaves toward one connection leaves in the order it was produced (a 180
// never overtakes its 200, unlike sipgo's own transaction layer, which spawns
// a goroutine per message; sipgo issue #306).
//
// Robustness: a panic while handling a message costs only that connection
// (or datagram), and every other goroutine and timer callback the edge starts
// recovers and logs one; responses without From, To, Call-ID or CSeq or with
// a status outside 100-699 are dropped (RFC 3261 §8.1.1, §7.2); nothing is
// written to a connection under a proxy context's state lock (see proxyCtx);
// a browser's ".invalid" contact can only be registered over the connection
// that holds it.
//
// SDP bodies of INVITE and UPDATE requests from WebSocket clients that set up
// MSRP are checked with bridge/sdp; a malformed one is refused with 400 or 488
// and a reason phrase saying what is wrong. Bodies are forwarded byte for
// byte.
package sipedge
