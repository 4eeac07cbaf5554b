// Package auth is the credential source and the HTTP Digest server shared by
// the MSRP relay and the SIP edge/registrar.
//
// It implements:
//
//   - RFC 2617 §3 Digest access authentication, server side, restricted to
//     algorithm MD5 and qop "auth": the challenge (§3.2.1), checking the
//     Authorization header (§3.2.2) and the Authentication-Info header
//     (§3.2.3). MD5-sess and auth-int are never offered nor accepted
//     (RFC 4976 §9.1); RFC 7616's stronger algorithms are not offered because
//     the browser SIP and MSRP libraries accept nothing but MD5.
//   - The MSRP relay profile of RFC 4976 §9.1 (used by AUTH, §5.1 and §6.3):
//     qop, cnonce and nc are mandatory, the digest-uri defaults to the
//     rightmost To-Path URI, and a 200 carries rspauth, cnonce, nc and qop.
//   - The SIP profile of RFC 3261 §22.4 (REGISTER, INVITE, MESSAGE, …),
//     except that a response without qop (the RFC 2069 form that §22.4 still
//     asks servers to accept) is refused as malformed: every client we serve
//     answers our qop="auth" challenge with qop.
//   - Credentials: a static user list (a -users file of name:password lines),
//     ephemeral credentials in the TURN REST / Kamailio autheph form
//     (username "EXPIRY:NAME", password base64(HMAC-SHA1(secret, username))),
//     and an open demo mode that accepts any name and password.
//
// Verify maps every outcome onto one of four errors, each of which has one
// protocol answer: ErrNoCredentials and ErrStaleNonce → 401 with a challenge
// (the latter with stale=true), ErrForbidden → 403, ErrMalformed → 400.
// The errors returned are wrapped with detail for logs; test them with
// errors.Is and do not send their text to the peer.
package auth

import "errors"

var (
	// ErrNoCredentials means the request carried no Authorization header.
	// Answer 401 with Digest.Challenge(false) (RFC 4976 §5.1, RFC 3261 §22.1).
	ErrNoCredentials = errors.New("auth: no credentials")

	// ErrStaleNonce means the response digest was right but the nonce was
	// not a fresh one of ours: expired, or issued before a restart. Answer
	// 401 with Digest.Challenge(true) so that the client retries without
	// asking its user again (RFC 2617 §3.2.1 "stale", §3.3).
	ErrStaleNonce = errors.New("auth: stale nonce")

	// ErrForbidden means the credentials are wrong: unknown user, wrong
	// password, expired ephemeral credentials or a realm that is not ours.
	// Answer 403 (RFC 4976 §6.3; RFC 3261 §22.2 allows 403 as well).
	ErrForbidden = errors.New("auth: forbidden")

	// ErrMalformed means the Authorization header cannot be parsed, uses a
	// scheme other than Digest, lacks a required directive, or asks for an
	// algorithm or qop that was not offered. Answer 400 (RFC 2617 §3.2.2).
	ErrMalformed = errors.New("auth: malformed authorization")
)
