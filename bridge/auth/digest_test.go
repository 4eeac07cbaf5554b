package auth

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is a settable clock, safe for concurrent use.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock { return &testClock{t: time.Unix(1_700_000_000, 0)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// md5hex is written out here so that the tests do not reuse the package's
// own digest helpers.
func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// client is a minimal RFC 2617 client: it answers a challenge like a browser
// library does.
type client struct {
	user, pass string
	cnonce     string
	nc         int
	sendURI    bool // false: omit uri (MSRP clients may, RFC 4976 §9.1)
}

// authorize answers challenge (a WWW-Authenticate value or, with a
// "nextnonce" parameter, an Authentication-Info value made parsable by a
// scheme prefix) for method and uri.
func (c *client) authorize(t *testing.T, challenge, method, uri string) string {
	t.Helper()
	v, err := c.answer(challenge, method, uri)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (c *client) answer(challenge, method, uri string) (string, error) {
	_, p, err := ParseParams(challenge)
	if err != nil {
		return "", fmt.Errorf("client cannot parse %q: %v", challenge, err)
	}
	nonce := p["nonce"]
	if nn, ok := p["nextnonce"]; ok {
		nonce = nn
	}
	c.nc++
	nc := fmt.Sprintf("%08x", c.nc)
	ha1 := md5hex(c.user + ":" + p["realm"] + ":" + c.pass)
	resp := md5hex(ha1 + ":" + nonce + ":" + nc + ":" + c.cnonce + ":auth:" + md5hex(method+":"+uri))
	v := fmt.Sprintf(`Digest username=%q, realm=%q, nonce=%q, `, c.user, p["realm"], nonce)
	if c.sendURI {
		v += fmt.Sprintf(`uri=%q, `, uri)
	}
	return v + fmt.Sprintf(`response=%q, qop=auth, cnonce=%q, nc=%s, algorithm=MD5`, resp, c.cnonce, nc), nil
}

// rspauth is what the client expects in Authentication-Info (RFC 2617 §3.2.3).
func (c *client) rspauth(realm, nonce, nc, uri string) string {
	ha1 := md5hex(c.user + ":" + realm + ":" + c.pass)
	return md5hex(ha1 + ":" + nonce + ":" + nc + ":" + c.cnonce + ":auth:" + md5hex(":"+uri))
}

func TestRFC2617ExampleResponse(t *testing.T) {
	ha1 := hashA1("Mufasa", "testrealm@host.com", "Circle Of Life")
	got := requestDigest(ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth", "GET", "/dir/index.html")
	if want := "6629fae49393a05397450978507c4ef1"; got != want {
		t.Fatalf("request-digest = %s, want %s (RFC 2617 §3.5)", got, want)
	}
}

func TestRFC2617ExampleVerify(t *testing.T) {
	store := NewStore(StoreConfig{Users: map[string]string{"Mufasa": "Circle Of Life"}})
	d := NewDigest("testrealm@host.com", store)
	const exampleNonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093"
	d.acceptNonce = func(n string) bool { return n == exampleNonce }

	// RFC 2617 §3.5, as on the wire (folded lines included).
	authz := `Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41"`
	c, err := d.Verify(authz, "GET", "/ignored-because-uri-is-present")
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := Credentials{Username: "Mufasa", Realm: "testrealm@host.com", Nonce: exampleNonce,
		URI: "/dir/index.html", CNonce: "0a4f113b", NC: "00000001", QOP: "auth"}
	got := *c
	got.ha1 = ""
	if got != want {
		t.Errorf("credentials = %+v\nwant          %+v", got, want)
	}

	// The same Authorization again is a replay (RFC 2617 §3.2.2: nc must grow): re-challenged.
	if _, err := d.Verify(authz, "GET", ""); !errors.Is(err, ErrStaleNonce) {
		t.Errorf("replayed Authorization: err = %v, want ErrStaleNonce", err)
	}
	// The next request on the same nonce counts up and passes.
	resp2 := requestDigest(hashA1("Mufasa", "testrealm@host.com", "Circle Of Life"), exampleNonce, "00000002", "0a4f113b", "auth", "GET", "/dir/index.html")
	next := strings.Replace(strings.Replace(authz, "nc=00000001", "nc=00000002", 1), "6629fae49393a05397450978507c4ef1", resp2, 1)
	if _, err := d.Verify(next, "GET", ""); err != nil {
		t.Errorf("nc=00000002: %v", err)
	}
	d.counts = nil // forget the uses above: the checks below verify the first request again

	// Upper-case hex in the response is the same digest.
	if _, err := d.Verify(strings.Replace(authz, "6629fae49393a05397450978507c4ef1", "6629FAE49393A05397450978507C4EF1", 1), "GET", ""); err != nil {
		t.Errorf("upper-case response: %v", err)
	}
	d.counts = nil
	// The method is part of A2.
	if _, err := d.Verify(authz, "POST", ""); !errors.Is(err, ErrForbidden) {
		t.Errorf("other method: err = %v, want ErrForbidden", err)
	}

	// Authentication-Info for it (RFC 2617 §3.2.3).
	info := d.AuthenticationInfo(c)
	_, p, err := ParseParams("Info " + info)
	if err != nil {
		t.Fatalf("parse Authentication-Info %q: %v", info, err)
	}
	cl := client{user: "Mufasa", pass: "Circle Of Life", cnonce: "0a4f113b"}
	if want := cl.rspauth("testrealm@host.com", exampleNonce, "00000001", "/dir/index.html"); p["rspauth"] != want {
		t.Errorf("rspauth = %q, want %q", p["rspauth"], want)
	}
}

func TestChallengeFormat(t *testing.T) {
	d := NewDigest(`relay "one" \ example`, NewStore(StoreConfig{}))
	for _, stale := range []bool{false, true} {
		ch := d.Challenge(stale)
		scheme, p, err := ParseParams(ch)
		if err != nil {
			t.Fatalf("ParseParams(%q): %v", ch, err)
		}
		if scheme != "Digest" {
			t.Errorf("scheme %q", scheme)
		}
		if p["realm"] != d.Realm() {
			t.Errorf("realm %q, want %q", p["realm"], d.Realm())
		}
		if !strings.Contains(ch, `qop="auth"`) {
			t.Errorf("challenge %q lacks quoted qop=\"auth\" (RFC 4976 §9.1)", ch)
		}
		if p["algorithm"] != "MD5" {
			t.Errorf("algorithm %q", p["algorithm"])
		}
		if len(p["nonce"]) < 32 || strings.ContainsAny(p["nonce"], `"\ `) {
			t.Errorf("nonce %q", p["nonce"])
		}
		for _, forbidden := range []string{"domain", "opaque", "auth-int", "MD5-sess"} {
			if strings.Contains(ch, forbidden) {
				t.Errorf("challenge %q offers %s", ch, forbidden)
			}
		}
		if _, has := p["stale"]; has != stale || (stale && p["stale"] != "true") {
			t.Errorf("Challenge(%v) = %q", stale, ch)
		}
	}
	if a, b := d.Challenge(false), d.Challenge(false); a == b {
		t.Errorf("two challenges share a nonce: %q", a)
	}
}

func TestRoundTripMSRPAuth(t *testing.T) {
	store := NewStore(StoreConfig{Users: map[string]string{"alice": "wonderland"}})
	d := NewDigest("relay.example.com", store)
	// RFC 4976 §9.1: the URI of H(A2) is the rightmost To-Path URI.
	const toPath = "msrp://relay.example.com:2855;tcp"

	for _, sendURI := range []bool{false, true} {
		t.Run(fmt.Sprintf("uri=%v", sendURI), func(t *testing.T) {
			// AUTH without credentials → 401.
			if _, err := d.Verify("", "AUTH", toPath); !errors.Is(err, ErrNoCredentials) {
				t.Fatalf("no header: err = %v, want ErrNoCredentials", err)
			}
			cl := &client{user: "alice", pass: "wonderland", cnonce: "0a4f113b", sendURI: sendURI}
			authz := cl.authorize(t, d.Challenge(false), "AUTH", toPath)
			c, err := d.Verify(authz, "AUTH", toPath)
			if err != nil {
				t.Fatalf("Verify(%q): %v", authz, err)
			}
			if c.Username != "alice" || c.URI != toPath || c.NC != "00000001" || c.QOP != "auth" {
				t.Errorf("credentials %+v", c)
			}

			info := d.AuthenticationInfo(c)
			_, p, err := ParseParams("Info " + info)
			if err != nil {
				t.Fatalf("parse Authentication-Info %q: %v", info, err)
			}
			// RFC 4976 §9.1: rspauth, cnonce, nc and qop on every 200.
			if want := cl.rspauth(d.Realm(), c.Nonce, "00000001", toPath); p["rspauth"] != want {
				t.Errorf("rspauth = %q, want %q", p["rspauth"], want)
			}
			if p["cnonce"] != "0a4f113b" || p["nc"] != "00000001" || p["qop"] != "auth" {
				t.Errorf("Authentication-Info %q", info)
			}
			if !strings.Contains(info, "qop=auth") || !strings.Contains(info, "nc=00000001") {
				t.Errorf("qop and nc must be unquoted (RFC 4976 §9.1): %q", info)
			}
			if p["nextnonce"] == "" || p["nextnonce"] == c.Nonce {
				t.Errorf("nextnonce %q", p["nextnonce"])
			}

			// The next AUTH uses nextnonce.
			authz = cl.authorize(t, "Info realm="+quote(d.Realm())+", "+info, "AUTH", toPath)
			c2, err := d.Verify(authz, "AUTH", toPath)
			if err != nil {
				t.Fatalf("Verify with nextnonce: %v", err)
			}
			if c2.Nonce != p["nextnonce"] || c2.NC != "00000002" {
				t.Errorf("second credentials %+v", c2)
			}
		})
	}
}

func TestRoundTripSIPRegister(t *testing.T) {
	clock := newClock()
	secret := []byte("s3cret")
	store := NewStore(StoreConfig{
		Users:  map[string]string{"bob": "builder"},
		Secret: secret,
		Now:    clock.Now,
	})
	d := NewDigest("example.com", store)
	user, pass := MintEphemeral(secret, "carol", clock.Now().Add(time.Hour))

	for _, tc := range []struct{ user, pass, name string }{
		{"bob", "builder", "bob"},
		{user, pass, "carol"},
	} {
		cl := &client{user: tc.user, pass: tc.pass, cnonce: "f00dcafe", sendURI: true}
		// RFC 3261 §22.4: the uri is the Request-URI and is quoted.
		authz := cl.authorize(t, d.Challenge(false), "REGISTER", "sip:example.com")
		if !strings.Contains(authz, `uri="sip:example.com"`) {
			t.Fatalf("test client: %q", authz)
		}
		c, err := d.Verify(authz, "REGISTER", "")
		if err != nil {
			t.Fatalf("%s: Verify: %v", tc.user, err)
		}
		if Name(c.Username) != tc.name || c.URI != "sip:example.com" {
			t.Errorf("credentials %+v, Name %q", c, Name(c.Username))
		}
		// The same Authorization does not fit another method.
		if _, err := d.Verify(authz, "INVITE", ""); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: REGISTER response checked as INVITE: err = %v, want ErrForbidden", tc.user, err)
		}
	}
}

func TestVerifyErrors(t *testing.T) {
	clock := newClock()
	secret := []byte("k")
	store := NewStore(StoreConfig{
		Users:  map[string]string{"alice": "pw"},
		Secret: secret,
		Now:    clock.Now,
	})
	d := NewDigest("r.example", store)
	expiredUser, expiredPass := MintEphemeral(secret, "eve", clock.Now().Add(-time.Second))
	otherSecretUser, otherSecretPass := MintEphemeral([]byte("other"), "mallory", clock.Now().Add(time.Hour))

	valid := func(user, pass string) string {
		cl := &client{user: user, pass: pass, cnonce: "abc", sendURI: true}
		return cl.authorize(t, d.Challenge(false), "AUTH", "msrp://r.example:2855;tcp")
	}
	good := valid("alice", "pw")
	// edit returns good with one parameter removed or replaced (new == "").
	edit := func(param, repl string) string {
		_, p, err := ParseParams(good)
		if err != nil {
			t.Fatal(err)
		}
		if repl == "" {
			delete(p, param)
		} else {
			p[param] = repl
		}
		return serialize("Digest", p)
	}
	// Sanity: serialize keeps it valid.
	if _, err := d.Verify(edit("opaque", "kept-but-ignored"), "AUTH", ""); err != nil {
		t.Fatalf("edited good header: %v", err)
	}

	tests := []struct {
		name   string
		header string
		want   error
	}{
		{"empty", "", ErrNoCredentials},
		{"blank", " \t ", ErrNoCredentials},
		{"garbled", `Digest username="alice`, ErrMalformed},
		{"garbage", "%%%", ErrMalformed},
		{"basic", "Basic YWxpY2U6cHc=", ErrMalformed},
		{"basic token68 unpadded", "Basic YWxpY2U6cHc", ErrMalformed},
		{"other scheme with params", strings.Replace(good, "Digest", "Bearer", 1), ErrMalformed},
		{"no username", edit("username", ""), ErrMalformed},
		{"no realm", edit("realm", ""), ErrMalformed},
		{"no nonce", edit("nonce", ""), ErrMalformed},
		{"no response", edit("response", ""), ErrMalformed},
		{"short response", edit("response", "abc"), ErrMalformed},
		{"non-hex response", edit("response", strings.Repeat("g", 32)), ErrMalformed},
		{"no qop", edit("qop", ""), ErrMalformed},
		{"qop auth-int", edit("qop", "auth-int"), ErrMalformed},
		{"no cnonce", edit("cnonce", ""), ErrMalformed},
		{"no nc", edit("nc", ""), ErrMalformed},
		{"short nc", edit("nc", "1"), ErrMalformed},
		{"algorithm MD5-sess", edit("algorithm", "MD5-sess"), ErrMalformed},
		{"algorithm SHA-256", edit("algorithm", "SHA-256"), ErrMalformed},
		{"no uri and no default", edit("uri", ""), ErrMalformed},
		{"realm mismatch", edit("realm", "elsewhere"), ErrForbidden},
		{"wrong password", valid("alice", "wrong"), ErrForbidden},
		{"unknown user", valid("bob", "pw"), ErrForbidden},
		{"expired ephemeral", valid(expiredUser, expiredPass), ErrForbidden},
		{"ephemeral of another secret", valid(otherSecretUser, otherSecretPass), ErrForbidden},
		{"ephemeral with wrong password", valid(ephemeralUser(clock.Now().Add(time.Hour), "eve"), "guess"), ErrForbidden},
		{"tampered cnonce", edit("cnonce", "abd"), ErrForbidden},
		{"tampered uri", edit("uri", "msrp://r.example:2856;tcp"), ErrForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := d.Verify(tc.header, "AUTH", "")
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify(%q) err = %v, want %v", tc.header, err, tc.want)
			}
			if c != nil {
				t.Errorf("credentials %+v returned with error", c)
			}
		})
	}
}

// ephemeralUser builds an ephemeral username without its password.
func ephemeralUser(expires time.Time, name string) string {
	u, _ := MintEphemeral(nil, name, expires)
	return u
}

func TestEphemeralExpiryBoundary(t *testing.T) {
	clock := newClock()
	secret := []byte("boundary")
	d := NewDigest("r", NewStore(StoreConfig{Secret: secret, Now: clock.Now}))
	user, pass := MintEphemeral(secret, "dave", clock.Now().Add(2*time.Second))
	cl := &client{user: user, pass: pass, cnonce: "x", sendURI: true}

	clock.Advance(2 * time.Second) // now == EXPIRY: still valid
	if _, err := d.Verify(cl.authorize(t, d.Challenge(false), "MESSAGE", "sip:x@r"), "MESSAGE", ""); err != nil {
		t.Fatalf("at expiry: %v", err)
	}
	clock.Advance(time.Second) // one second past EXPIRY
	if _, err := d.Verify(cl.authorize(t, d.Challenge(false), "MESSAGE", "sip:x@r"), "MESSAGE", ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("after expiry: err = %v, want ErrForbidden", err)
	}
}

func TestStaleNonce(t *testing.T) {
	clock := newClock()
	secret := []byte("k")
	store := NewStore(StoreConfig{Users: map[string]string{"alice": "pw"}, Secret: secret, Now: clock.Now})
	d := NewDigest("r.example", store)
	const uri = "msrp://r.example:2855;tcp"

	t.Run("expired nonce, right password", func(t *testing.T) {
		cl := &client{user: "alice", pass: "pw", cnonce: "c1"}
		ch := d.Challenge(false)
		clock.Advance(NonceTTL - time.Second)
		if _, err := d.Verify(cl.authorize(t, ch, "AUTH", uri), "AUTH", uri); err != nil {
			t.Fatalf("just before NonceTTL: %v", err)
		}
		clock.Advance(2 * time.Second)
		authz := cl.authorize(t, ch, "AUTH", uri)
		if _, err := d.Verify(authz, "AUTH", uri); !errors.Is(err, ErrStaleNonce) {
			t.Fatalf("after NonceTTL: err = %v, want ErrStaleNonce", err)
		}
		// The client retries on the stale=true challenge and succeeds.
		if _, err := d.Verify(cl.authorize(t, d.Challenge(true), "AUTH", uri), "AUTH", uri); err != nil {
			t.Fatalf("after re-challenge: %v", err)
		}
	})

	t.Run("expired nonce, wrong password", func(t *testing.T) {
		cl := &client{user: "alice", pass: "nope", cnonce: "c1"}
		ch := d.Challenge(false)
		clock.Advance(NonceTTL + time.Second)
		if _, err := d.Verify(cl.authorize(t, ch, "AUTH", uri), "AUTH", uri); !errors.Is(err, ErrForbidden) {
			t.Fatalf("err = %v, want ErrForbidden (stale only with a valid digest, RFC 2617 §3.2.1)", err)
		}
	})

	t.Run("expired ephemeral with stale nonce", func(t *testing.T) {
		user, pass := MintEphemeral(secret, "eve", clock.Now().Add(time.Minute))
		cl := &client{user: user, pass: pass, cnonce: "c1"}
		ch := d.Challenge(false)
		clock.Advance(NonceTTL + time.Minute)
		if _, err := d.Verify(cl.authorize(t, ch, "AUTH", uri), "AUTH", uri); !errors.Is(err, ErrForbidden) {
			t.Fatalf("err = %v, want ErrForbidden (expiry first)", err)
		}
	})

	t.Run("nonce from before a restart", func(t *testing.T) {
		restarted := NewDigest("r.example", store) // new random key
		cl := &client{user: "alice", pass: "pw", cnonce: "c1"}
		ch := d.Challenge(false)
		if _, err := restarted.Verify(cl.authorize(t, ch, "AUTH", uri), "AUTH", uri); !errors.Is(err, ErrStaleNonce) {
			t.Fatalf("err = %v, want ErrStaleNonce", err)
		}
		bad := &client{user: "alice", pass: "bad", cnonce: "c1"}
		if _, err := restarted.Verify(bad.authorize(t, ch, "AUTH", uri), "AUTH", uri); !errors.Is(err, ErrForbidden) {
			t.Fatalf("wrong password: err = %v, want ErrForbidden", err)
		}
	})

	t.Run("nonce of another realm", func(t *testing.T) {
		other := NewDigest("other.example", store)
		_, p, _ := ParseParams(other.Challenge(false))
		cl := &client{user: "alice", pass: "pw", cnonce: "c1"}
		ch := fmt.Sprintf(`Digest realm="r.example", nonce=%q`, p["nonce"])
		if _, err := d.Verify(cl.authorize(t, ch, "AUTH", uri), "AUTH", uri); !errors.Is(err, ErrStaleNonce) {
			t.Fatalf("err = %v, want ErrStaleNonce", err)
		}
	})

	t.Run("garbled and forged nonces", func(t *testing.T) {
		_, p, _ := ParseParams(d.Challenge(false))
		n := p["nonce"]
		flipped := n[:10] + string(n[10]^1) + n[11:]
		for _, nonce := range []string{"dcd98b7102dd2f0e8b11d0f600bfb0c093", flipped, n + "A", n[:len(n)-1], strings.Repeat("=", len(n)), "x"} {
			cl := &client{user: "alice", pass: "pw", cnonce: "c1"}
			ch := fmt.Sprintf(`Digest realm="r.example", nonce=%q`, nonce)
			if _, err := d.Verify(cl.authorize(t, ch, "AUTH", uri), "AUTH", uri); !errors.Is(err, ErrStaleNonce) {
				t.Errorf("nonce %q: err = %v, want ErrStaleNonce", nonce, err)
			}
		}
	})

	t.Run("nonce from the future", func(t *testing.T) {
		ch := d.Challenge(false)
		clock.Advance(-NonceTTL - time.Second) // clock stepped back
		defer clock.Advance(NonceTTL + time.Second)
		cl := &client{user: "alice", pass: "pw", cnonce: "c1"}
		if _, err := d.Verify(cl.authorize(t, ch, "AUTH", uri), "AUTH", uri); !errors.Is(err, ErrStaleNonce) {
			t.Fatalf("err = %v, want ErrStaleNonce", err)
		}
	})
}

func TestOpenMode(t *testing.T) {
	clock := newClock()
	store := NewStore(StoreConfig{Open: true, Users: map[string]string{"alice": "pw"}, Now: clock.Now})
	if !store.Open() {
		t.Fatal("Open() = false")
	}
	if pw, err := store.Password("anyone"); pw != "" || err != nil {
		t.Fatalf("Password = %q, %v; want \"\", nil", pw, err)
	}
	d := NewDigest("localhost", store)
	const uri = "msrp://127.0.0.1:2855;tcp"

	for _, cl := range []*client{
		{user: "anyone", pass: "anything", cnonce: "c"},
		{user: "alice", pass: "not-her-password", cnonce: "c"},
		{user: "1:expired-ephemeral", pass: "x", cnonce: "c"},
	} {
		c, err := d.Verify(cl.authorize(t, d.Challenge(false), "AUTH", uri), "AUTH", uri)
		if err != nil {
			t.Fatalf("%s: %v", cl.user, err)
		}
		if c.Username != cl.user {
			t.Errorf("username %q, want %q", c.Username, cl.user)
		}
		info := d.AuthenticationInfo(c)
		_, p, err := ParseParams("Info " + info)
		if err != nil {
			t.Fatalf("parse %q: %v", info, err)
		}
		if _, has := p["rspauth"]; has {
			t.Errorf("open mode Authentication-Info has rspauth: %q", info)
		}
		if p["nextnonce"] == "" || p["cnonce"] != "c" || p["nc"] != "00000001" || p["qop"] != "auth" {
			t.Errorf("Authentication-Info %q", info)
		}
	}

	// Still: no header, malformed, wrong realm, stale nonce.
	if _, err := d.Verify("", "AUTH", uri); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("no header: err = %v", err)
	}
	if _, err := d.Verify(`Digest username="x", realm="localhost"`, "AUTH", uri); !errors.Is(err, ErrMalformed) {
		t.Errorf("incomplete header: err = %v", err)
	}
	cl := &client{user: "x", pass: "y", cnonce: "c"}
	if _, err := d.Verify(cl.authorize(t, `Digest realm="elsewhere", nonce="n"`, "AUTH", uri), "AUTH", uri); !errors.Is(err, ErrForbidden) {
		t.Errorf("other realm: err = %v", err)
	}
	ch := d.Challenge(false)
	clock.Advance(NonceTTL + time.Second)
	if _, err := d.Verify(cl.authorize(t, ch, "AUTH", uri), "AUTH", uri); !errors.Is(err, ErrStaleNonce) {
		t.Errorf("stale nonce: err = %v, want ErrStaleNonce", err)
	}
	if _, err := d.Verify(cl.authorize(t, `Digest realm="localhost", nonce="forged"`, "AUTH", uri), "AUTH", uri); !errors.Is(err, ErrStaleNonce) {
		t.Errorf("forged nonce: err = %v, want ErrStaleNonce", err)
	}
}

func TestAuthenticationInfoNil(t *testing.T) {
	d := NewDigest("r", NewStore(StoreConfig{}))
	info := d.AuthenticationInfo(nil)
	_, p, err := ParseParams("Info " + info)
	if err != nil || len(p) != 1 || !d.fresh(p["nextnonce"]) {
		t.Fatalf("AuthenticationInfo(nil) = %q (%v)", info, err)
	}
}

func TestNewDigestPanicsOnBadConfig(t *testing.T) {
	for name, f := range map[string]func(){
		"nil store":     func() { NewDigest("r", nil) },
		"empty realm":   func() { NewDigest("", NewStore(StoreConfig{})) },
		"CRLF in realm": func() { NewDigest("a\r\nb", NewStore(StoreConfig{})) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestConcurrent exercises a shared Store and Digest from many goroutines;
// run with -race.
func TestConcurrent(t *testing.T) {
	clock := newClock()
	secret := []byte("k")
	store := NewStore(StoreConfig{Users: map[string]string{"alice": "pw"}, Secret: secret, Now: clock.Now})
	d := NewDigest("r", store)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user, pass := "alice", "pw"
			if i%2 == 1 {
				user, pass = MintEphemeral(secret, fmt.Sprint("u", i), clock.Now().Add(time.Hour))
			}
			cl := &client{user: user, pass: pass, cnonce: fmt.Sprint("c", i), sendURI: true}
			for range 50 {
				authz := cl.authorize(t, d.Challenge(false), "REGISTER", "sip:r")
				c, err := d.Verify(authz, "REGISTER", "")
				if err != nil {
					errs <- err
					return
				}
				_ = d.AuthenticationInfo(c)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func FuzzVerify(f *testing.F) {
	clock := newClock()
	store := NewStore(StoreConfig{Users: map[string]string{"Mufasa": "Circle Of Life"}, Secret: []byte("k"), Now: clock.Now})
	d := NewDigest("testrealm@host.com", store)
	open := NewDigest("testrealm@host.com", NewStore(StoreConfig{Open: true, Now: clock.Now}))
	cl := &client{user: "Mufasa", pass: "Circle Of Life", cnonce: "0a4f113b", sendURI: true}
	f.Add(`Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`, "GET")
	seed, err := cl.answer(d.Challenge(false), "AUTH", "msrp://h:1;tcp")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed, "AUTH")
	f.Add(`Digest username="1:x", realm="testrealm@host.com", nonce="n", qop=AUTH, nc=0000000G, cnonce="", response=""`, "REGISTER")
	f.Add("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "GET")
	f.Add("", "AUTH")
	f.Fuzz(func(t *testing.T, header, method string) {
		for _, dg := range []*Digest{d, open} {
			c, err := dg.Verify(header, method, "msrp://h:1;tcp")
			if err == nil {
				if c == nil {
					t.Fatal("nil credentials without error")
				}
				_ = dg.AuthenticationInfo(c)
				continue
			}
			if c != nil {
				t.Fatalf("credentials with error %v", err)
			}
			known := 0
			for _, e := range []error{ErrNoCredentials, ErrStaleNonce, ErrForbidden, ErrMalformed} {
				if errors.Is(err, e) {
					known++
				}
			}
			if known != 1 {
				t.Fatalf("error %v is not exactly one of the package's errors", err)
			}
		}
	})
}
