package auth

import (
	"strings"
	"testing"
)

// TestRespondAgainstServer answers a challenge of package auth's Digest server and
// has the server verify it, then checks the server's rspauth (RFC 2617 §3.2.3).
func TestRespondAgainstServer(t *testing.T) {
	store := NewStore(StoreConfig{Users: map[string]string{`al"ice`: "pa\\ss"}})
	d := NewDigest("relay.example", store)
	const uri = "msrps://relay.example:2855;tcp"
	a, err := Respond(d.Challenge(false), "AUTH", uri, `al"ice`, "pa\\ss")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := d.Verify(a.Authorization, "AUTH", uri)
	if err != nil {
		t.Fatalf("server refused %q: %v", a.Authorization, err)
	}
	if err := a.CheckInfo(d.AuthenticationInfo(creds)); err != nil {
		t.Errorf("server's rspauth: %v", err)
	}
	if err := a.CheckInfo(`rspauth="00000000000000000000000000000000", qop=auth`); err == nil {
		t.Error("a wrong rspauth passed")
	}
	if err := a.CheckInfo(`nextnonce="x", qop=auth`); err != nil {
		t.Errorf("Authentication-Info without rspauth (open demo mode): %v", err)
	}
	// RFC 4976 §9.1: qop, cnonce and nc present; uri quoted.
	_, ap, err := ParseParams(a.Authorization)
	if err != nil {
		t.Fatal(err)
	}
	if ap["qop"] != "auth" || ap["nc"] != "00000001" || len(ap["cnonce"]) < 8 || ap["uri"] != uri || ap["username"] != `al"ice` {
		t.Errorf("authorization %q", a.Authorization)
	}
	if !strings.Contains(a.Authorization, "qop=auth,") {
		t.Errorf("qop must be unquoted in Authorization (RFC 4976 §9.1): %s", a.Authorization)
	}
}

func TestRespondRefuses(t *testing.T) {
	for _, ch := range []string{
		`Basic realm="x"`,
		`Digest realm="x", nonce="n", qop="auth-int"`,
		`Digest realm="x", nonce="n"`,
		`Digest realm="x", nonce="n", qop="auth", algorithm=SHA-256`,
		`Digest realm="x", nonce="n", qop="auth", algorithm=MD5-sess`,
		`Digest nonce="n", qop="auth"`,
		`Digest realm="x", qop="auth"`,
		`Digest realm="x`,
		``,
	} {
		if _, err := Respond(ch, "AUTH", "msrp://r:1;tcp", "u", "p"); err == nil {
			t.Errorf("accepted challenge %q", ch)
		}
	}
	// A qop list containing auth, an opaque to echo, algorithm MD5 spelled in lower case.
	a, err := Respond(`Digest realm="x", nonce="n", qop="auth-int,auth", opaque="op1", algorithm=md5`, "AUTH", "msrp://r:1;tcp", "u", "p")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.Authorization, `opaque="op1"`) {
		t.Errorf("opaque not echoed: %s", a.Authorization)
	}
}
