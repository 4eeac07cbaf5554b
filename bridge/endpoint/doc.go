// Package endpoint is an MSRP endpoint: it opens or accepts transport connections, sends
// messages in chunks and receives them, and authenticates to a relay. The msrpcat tool, the
// relay's integration tests and the benchmark program are built on it.
//
// It implements:
//   - RFC 4975 §5.4 connections: TCP and TLS ("msrps"), sessions bound to the connection
//     their first request arrives on (481 for an unknown session, 506 for one in use on
//     another connection; RFC 4975 §7.3).
//   - RFC 4975 §7.1 and §7.1.1 the sender role: Message-ID, chunks with Byte-Range,
//     Success-Report and Failure-Report, transaction ids whose end-line is not in the body,
//     the 30 s response timer, and interruptible chunks — over TCP and TLS a chunk larger
//     than 2048 octets is written with "*" as range-end and is cut short ('+') whenever a
//     response, REPORT or another message waits for the connection, so the connection stays
//     fair; a chunk being written when a failure arrives is ended with '#' (§7.3.2).
//   - RFC 4975 §7.1.3, §7.2, §7.3.1 and §7.3.2 the receiver role: responses (none for
//     Failure-Report "no", none on success for "partial", never any for REPORT),
//     reassembly by Message-ID of chunks that arrive out of order or overlap (the last one
//     received wins), bodies streamed to an application sink as they arrive, success
//     REPORTs, bodiless SEND as a keepalive, 501 for methods the application does not
//     handle.
//   - RFC 4976 §5.1 and §9.1 the client side of AUTH: HTTP Digest (RFC 2617 §3.2.2, MD5,
//     qop=auth with cnonce and nc; the digest-uri is the rightmost To-Path URI), retry on a
//     stale nonce, the rspauth check of Authentication-Info, Use-Path and Expires.
//   - RFC 7977 the WebSocket client: subprotocol "msrp" (§4.1), binary frames, text and
//     binary frames accepted (§4.2), exactly one chunk per WebSocket message (§5.1),
//     session URIs with the "ws" transport and ".invalid" hosts (§5.2.1).
//
// The wire format is package msrp's; this package never parses by hand.
//
// # Concurrency
//
// A [Conn] has one goroutine that reads and dispatches, and one that writes responses and
// REPORTs. The reader never waits for the writer, so two endpoints that send to each other
// at full speed cannot deadlock. The application's callbacks ([Options]) run on the reading
// goroutine, one at a time per connection; while one runs, the connection reads nothing
// more (this is the backpressure that bounds memory). A callback must therefore not wait
// for a response on the same Conn; start a goroutine for that.
package endpoint
