package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Answer is the client side of HTTP Digest (RFC 2617 §3.2.2) as RFC 4976 §9.1 restricts it:
// algorithm MD5, qop=auth, a fresh cnonce and nc=00000001. SIP user agents (RFC 3261 §22.2)
// and MSRP clients answering a relay's challenge both use it.
type Answer struct {
	// Authorization is the header value to send (also the Proxy-Authorization value).
	Authorization string

	ha1, nonce, nc, cnonce, uri string
}

// Respond answers the WWW-Authenticate (or Proxy-Authenticate) challenge for method and
// digest-uri uri with the credentials user and password. It refuses what RFC 4976 §9.1
// forbids: a scheme other than Digest, an algorithm other than MD5, and a challenge without
// qop "auth".
func Respond(challenge, method, uri, user, password string) (*Answer, error) {
	if strings.ContainsFunc(user+password+uri, isControl) {
		return nil, errors.New("auth: control character in user name, password or uri")
	}
	scheme, p, err := ParseParams(challenge)
	if err != nil {
		return nil, fmt.Errorf("auth: bad challenge: %w", err)
	}
	if !strings.EqualFold(scheme, "Digest") {
		return nil, fmt.Errorf("auth: challenge scheme %q: only Digest is allowed (RFC 4976 §9.1)", scheme)
	}
	if alg, ok := p["algorithm"]; ok && !strings.EqualFold(alg, "MD5") {
		return nil, fmt.Errorf("auth: challenge algorithm %q: only MD5 is supported", alg)
	}
	realm, hasRealm := p["realm"]
	nonce := p["nonce"]
	if !hasRealm || nonce == "" {
		return nil, errors.New("auth: challenge lacks realm or nonce")
	}
	qopOK := false
	for _, q := range strings.Split(p["qop"], ",") {
		if strings.EqualFold(strings.TrimSpace(q), "auth") {
			qopOK = true
		}
	}
	if !qopOK {
		return nil, errors.New("auth: challenge does not offer qop=auth (RFC 4976 §9.1)")
	}
	var b [8]byte
	rand.Read(b[:])
	a := &Answer{ha1: hashA1(user, realm, password), nonce: nonce, nc: "00000001", cnonce: hex.EncodeToString(b[:]), uri: uri}
	response := requestDigest(a.ha1, a.nonce, a.nc, a.cnonce, "auth", method, uri)
	hdr := "Digest username=" + quote(user) + ", realm=" + quote(realm) + ", nonce=" + quote(nonce) +
		", uri=" + quote(uri) + ", response=" + quote(response) + ", algorithm=MD5, qop=auth, cnonce=" +
		quote(a.cnonce) + ", nc=" + a.nc
	if op, ok := p["opaque"]; ok {
		hdr += ", opaque=" + quote(op)
	}
	a.Authorization = hdr
	return a, nil
}

// Stale reports whether a challenge says the nonce was stale (RFC 2617 §3.2.1): the same
// credentials should be sent again with the new nonce.
func Stale(challenge string) bool {
	_, p, err := ParseParams(challenge)
	return err == nil && strings.EqualFold(p["stale"], "true")
}

// CheckInfo checks the rspauth of an Authentication-Info header (RFC 2617 §3.2.3): the server
// proves it knows the password. A header without rspauth passes (open demo relays know no
// password); a wrong one is an error.
func (a *Answer) CheckInfo(info string) error {
	// Authentication-Info has no scheme; ParseParams wants one.
	_, p, err := ParseParams("Digest " + info)
	if err != nil {
		return fmt.Errorf("auth: bad Authentication-Info: %w", err)
	}
	if rsp, ok := p["rspauth"]; ok && !strings.EqualFold(rsp, a.rspauth()) {
		return errors.New("auth: wrong rspauth: the server does not know the password (RFC 2617 §3.2.3)")
	}
	return nil
}

// rspauth is the response-digest the server must send back: the request-digest with
// A2 = ":" digest-uri (RFC 2617 §3.2.3).
func (a *Answer) rspauth() string {
	return requestDigest(a.ha1, a.nonce, a.nc, a.cnonce, "auth", "", a.uri)
}
