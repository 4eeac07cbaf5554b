// Package msrp is the wire codec of the Message Session Relay Protocol: it turns bytes into
// requests, responses and chunks and back, and never touches a socket.
//
// It implements:
//   - RFC 4975 §9 (formal syntax): start lines, To-Path/From-Path, Message-ID, Byte-Range,
//     Success-Report, Failure-Report, Status, Content-Type and the MIME headers before it,
//     extension headers (kept in order), and the end-line with its continuation flag
//     ('$' complete, '+' more chunks follow, '#' aborted).
//   - RFC 4975 §6 and §6.1: MSRP URIs (schemes msrp and msrps, authority, session-id,
//     transport parameter) and their comparison rules.
//   - RFC 4975 §7.1: transaction identifiers with at least 64 random bits, chosen so that the
//     end-line does not occur in the body.
//   - RFC 4976 §4 and §7: the AUTH method and the Use-Path, Expires, Min-Expires, Max-Expires,
//     WWW-Authenticate, Authorization and Authentication-Info headers (the last three are kept
//     verbatim; their digest syntax belongs to package auth).
//   - RFC 7977 §5.2.1: the "ws" transport parameter.
//
// There are two front ends over one header parser. [Parse] reads exactly one message from a
// byte slice, as RFC 7977 §5.1 puts exactly one chunk in each WebSocket message. [Reader]
// reads a TCP or TLS byte stream: headers are parsed as soon as they arrive and the body is
// handed out in bounded pieces ([Part]), so a chunk of any size passes through a fixed amount
// of memory (RFC 4975 §5.1 lets chunks be interrupted and of any length).
package msrp
