// Package sdp checks the SDP bodies that set up MSRP sessions, so that the SIP
// edge can refuse a malformed offer from a browser with a precise reason
// instead of letting the session fail later. It never rewrites a body: an SDP
// that passes is forwarded byte for byte by the caller.
//
// It implements the checks of:
//
//   - RFC 4975 §8.1: an MSRP media line is "m=message <port> <proto> *" with
//     proto "TCP/MSRP" or "TCP/TLS/MSRP"; RFC 7977 §5.2.2 keeps TCP/TLS/MSRP
//     for WebSocket clients. The legacy "TCP/WS/MSRP" and "TCP/WSS/MSRP" of
//     early MSRP-over-WebSocket drafts are tolerated: they are normalised to
//     TCP/MSRP and TCP/TLS/MSRP for parsing only, because pion/sdp rejects
//     them.
//   - RFC 4975 §8.2 and §9: a=path holds one or more MSRP URIs
//     (msrp-scheme "://" authority ["/" session-id] ";" transport
//     *(";" URI-parameter)), each with an explicit port; the rightmost one
//     names the endpoint and carries a session-id. RFC 7977 §5.2.1 adds the
//     "ws" transport.
//   - RFC 4975 §8.6: a=accept-types is mandatory; it and
//     a=accept-wrapped-types are lists of "*", "type/*" or "type/subtype"
//     with optional ";param=value"; a=max-size is a decimal number.
//   - RFC 6135 §4.2: a=setup is "active", "passive" or "actpass"; "passive"
//     is not allowed in an offer; "holdconn" is ignored as if absent. A
//     missing a=setup is tolerated (RFC 4975-only peers omit it).
//
// Media lines other than m=message are not inspected. A media line with port
// 0 (a refused stream, RFC 3264 §6) needs no a=path nor a=accept-types.
//
// The parser is pion/sdp/v3, fed a normalised copy of the body: line endings
// are made CRLF, protos upper-cased, legacy WebSocket protos mapped as above,
// and a missing "t=" line (which pion requires) supplied as "t=0 0".
package sdp
