package endpoint

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/simplegw/simplegw/bridge/auth"
	"github.com/simplegw/simplegw/bridge/msrp"
)

// AuthResult is what a relay granted (RFC 4976 §5.1).
type AuthResult struct {
	// UsePath is the Use-Path of the 200: put it in front of the peer's path to form a
	// To-Path, and reversed, followed by our URI, in the SDP path attribute.
	UsePath []msrp.URI
	// Expires is how long (seconds) the Use-Path URIs stay valid; 0 if not given.
	Expires int
}

// Auth authenticates to a relay (RFC 4976 §5.1): an AUTH from our URI from along to (the
// relay's URI, or the path through our inner relays ending with it, §5.1), answered 401;
// then an AUTH with HTTP Digest credentials (RFC 2617 §3.2.2 with RFC 4976 §9.1: MD5,
// qop=auth, cnonce and nc, the digest-uri being the rightmost To-Path URI); a second 401
// marked stale=true is answered once more. expires > 0 asks for that lifetime (Expires,
// §4.6).
//
// A refusal is returned as a *StatusError carrying the response: 401 (credentials not
// accepted), 403, 423 (with Min-Expires or Max-Expires in its Message), …. A 200 whose
// Authentication-Info rspauth does not prove knowledge of the password is an error; a 200
// without rspauth is accepted (open demo relays know no password).
func (c *Conn) Auth(ctx context.Context, from msrp.URI, to []msrp.URI, user, password string, expires int) (*AuthResult, error) {
	if len(to) == 0 {
		return nil, errors.New("endpoint: AUTH needs the relay's URI")
	}
	if strings.ContainsFunc(user+password, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, errors.New("endpoint: control character in user name or password")
	}
	newReq := func() *msrp.Message {
		m := &msrp.Message{TransactionID: msrp.NewIdent(), Method: msrp.MethodAUTH, ToPath: to, FromPath: []msrp.URI{from}}
		if expires > 0 {
			m.Set("Expires", strconv.Itoa(expires))
		}
		return m
	}
	uri := to[len(to)-1].String()
	resp, err := c.Do(ctx, newReq())
	var d *digestAnswer
	for attempt := 0; attempt < 2 && Code(err) == 401; attempt++ {
		challenge, ok := resp.Get("WWW-Authenticate")
		if !ok {
			return nil, fmt.Errorf("endpoint: 401 without WWW-Authenticate: %w", err)
		}
		if attempt > 0 {
			if _, p, perr := auth.ParseParams(challenge); perr != nil || !strings.EqualFold(p["stale"], "true") {
				return nil, err // the credentials were refused
			}
		}
		d, err = answerChallenge(challenge, msrp.MethodAUTH, uri, user, password)
		if err != nil {
			return nil, err
		}
		req := newReq()
		req.Set("Authorization", d.header)
		resp, err = c.Do(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	// A relay that authenticated the connection otherwise (RFC 7977 §5.3.1) may answer the
	// first AUTH with 200 at once; there is then no digest to check.
	if info, ok := resp.Get("Authentication-Info"); ok && d != nil {
		// Authentication-Info has no scheme; ParseParams wants one.
		_, p, perr := auth.ParseParams("Digest " + info)
		if perr != nil {
			return nil, fmt.Errorf("endpoint: bad Authentication-Info: %w", perr)
		}
		if rsp, ok := p["rspauth"]; ok && !strings.EqualFold(rsp, d.rspauth()) {
			return nil, errors.New("endpoint: the relay's rspauth is wrong: it does not know the password (RFC 2617 §3.2.3)")
		}
	}
	use, err := resp.UsePath()
	if err != nil {
		return nil, fmt.Errorf("endpoint: AUTH 200: %w", err)
	}
	r := &AuthResult{UsePath: use}
	if e, ok := resp.Expires(); ok {
		r.Expires = e
	}
	return r, nil
}

// digestAnswer is a computed Digest response and what is needed to check rspauth.
type digestAnswer struct {
	header                           string // the Authorization value
	ha1, nonce, nc, cnonce, qop, uri string
}

// rspauth is the response-digest the server must send back: the request-digest with
// A2 = ":" digest-uri (RFC 2617 §3.2.3).
func (d *digestAnswer) rspauth() string {
	return requestDigest(d.ha1, d.nonce, d.nc, d.cnonce, d.qop, "", d.uri)
}

// answerChallenge builds the Authorization value answering a WWW-Authenticate challenge
// (RFC 2617 §3.2.2) for method and digest-uri uri, with a fresh cnonce and nc=00000001.
// It accepts only what RFC 4976 §9.1 allows: Digest, algorithm MD5 (or absent), and a qop
// list containing "auth".
func answerChallenge(challenge, method, uri, user, password string) (*digestAnswer, error) {
	scheme, p, err := auth.ParseParams(challenge)
	if err != nil {
		return nil, fmt.Errorf("endpoint: bad WWW-Authenticate: %w", err)
	}
	if !strings.EqualFold(scheme, "Digest") {
		return nil, fmt.Errorf("endpoint: challenge scheme %q: only Digest is allowed (RFC 4976 §9.1)", scheme)
	}
	if alg, ok := p["algorithm"]; ok && !strings.EqualFold(alg, "MD5") {
		return nil, fmt.Errorf("endpoint: challenge algorithm %q: only MD5 is supported", alg)
	}
	realm, hasRealm := p["realm"]
	nonce := p["nonce"]
	if !hasRealm || nonce == "" {
		return nil, errors.New("endpoint: challenge lacks realm or nonce")
	}
	qopOK := false
	for _, q := range strings.Split(p["qop"], ",") {
		if strings.EqualFold(strings.TrimSpace(q), "auth") {
			qopOK = true
		}
	}
	if !qopOK {
		return nil, errors.New("endpoint: challenge does not offer qop=auth (RFC 4976 §9.1)")
	}
	var b [8]byte
	rand.Read(b[:])
	d := &digestAnswer{ha1: hashA1(user, realm, password), nonce: nonce, nc: "00000001",
		cnonce: hex.EncodeToString(b[:]), qop: "auth", uri: uri}
	response := requestDigest(d.ha1, d.nonce, d.nc, d.cnonce, d.qop, method, uri)
	h := "Digest username=" + quote(user) + ", realm=" + quote(realm) + ", nonce=" + quote(nonce) +
		", uri=" + quote(uri) + ", response=" + quote(response) + ", algorithm=MD5, qop=auth, cnonce=" +
		quote(d.cnonce) + ", nc=" + d.nc
	if op, ok := p["opaque"]; ok {
		h += ", opaque=" + quote(op)
	}
	d.header = h
	return d, nil
}

// md5hex is H(data), lower-case hex MD5 (RFC 2617 §3.1.3).
func md5hex(data string) string {
	sum := md5.Sum([]byte(data))
	return hex.EncodeToString(sum[:])
}

// hashA1 is H(A1) = H(username ":" realm ":" password) for algorithm MD5 (RFC 2617
// §3.2.2.2).
func hashA1(user, realm, password string) string {
	return md5hex(user + ":" + realm + ":" + password)
}

// requestDigest is the qop=auth request-digest of RFC 2617 §3.2.2.1:
// KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2)), A2 = method ":" uri (§3.2.2.3).
func requestDigest(ha1, nonce, nc, cnonce, qop, method, uri string) string {
	return md5hex(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + md5hex(method+":"+uri))
}

// quote returns s as a quoted-string (RFC 2617 §1.2 / RFC 7230 §3.2.6).
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
