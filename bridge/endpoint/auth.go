package endpoint

import (
	"context"
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
	var d *auth.Answer
	for attempt := 0; attempt < 2 && Code(err) == 401; attempt++ {
		challenge, ok := resp.Get("WWW-Authenticate")
		if !ok {
			return nil, fmt.Errorf("endpoint: 401 without WWW-Authenticate: %w", err)
		}
		if attempt > 0 && !auth.Stale(challenge) {
			return nil, err // the credentials were refused
		}
		var aerr error
		if d, aerr = auth.Respond(challenge, msrp.MethodAUTH, uri, user, password); aerr != nil {
			return nil, fmt.Errorf("endpoint: %w", aerr)
		}
		req := newReq()
		req.Set("Authorization", d.Authorization)
		resp, err = c.Do(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	// A relay that authenticated the connection otherwise (RFC 7977 §5.3.1) may answer the
	// first AUTH with 200 at once; there is then no digest to check.
	if info, ok := resp.Get("Authentication-Info"); ok && d != nil {
		if err := d.CheckInfo(info); err != nil {
			return nil, fmt.Errorf("endpoint: the relay's answer: %w", err)
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
