package endpoint

import (
	"strings"
	"testing"

	"github.com/simplegw/simplegw/bridge/auth"
)

// TestDigestRFC2617Vector checks the request-digest against RFC 2617 §3.5.
func TestDigestRFC2617Vector(t *testing.T) {
	ha1 := hashA1("Mufasa", "testrealm@host.com", "Circle Of Life")
	got := requestDigest(ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth", "GET", "/dir/index.html")
	if want := "6629fae49393a05397450978507c4ef1"; got != want {
		t.Fatalf("request-digest %s, want %s", got, want)
	}
}

// TestAnswerChallengeAgainstServer answers a challenge of package auth's Digest server and
// has the server verify it, then checks the server's rspauth (RFC 2617 §3.2.3).
func TestAnswerChallengeAgainstServer(t *testing.T) {
	store := auth.NewStore(auth.StoreConfig{Users: map[string]string{`al"ice`: "pa\\ss"}})
	d := auth.NewDigest("relay.example", store)
	const uri = "msrps://relay.example:2855;tcp"
	a, err := answerChallenge(d.Challenge(false), "AUTH", uri, `al"ice`, "pa\\ss")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := d.Verify(a.header, "AUTH", uri)
	if err != nil {
		t.Fatalf("server refused %q: %v", a.header, err)
	}
	_, p, err := auth.ParseParams("Digest " + d.AuthenticationInfo(creds))
	if err != nil {
		t.Fatal(err)
	}
	if p["rspauth"] != a.rspauth() {
		t.Errorf("rspauth %s, want %s", p["rspauth"], a.rspauth())
	}
	// RFC 4976 §9.1: qop, cnonce and nc present; uri quoted.
	_, ap, err := auth.ParseParams(a.header)
	if err != nil {
		t.Fatal(err)
	}
	if ap["qop"] != "auth" || ap["nc"] != "00000001" || len(ap["cnonce"]) < 8 || ap["uri"] != uri || ap["username"] != `al"ice` {
		t.Errorf("authorization %q", a.header)
	}
	if !strings.Contains(a.header, "qop=auth,") {
		t.Errorf("qop must be unquoted in Authorization (RFC 4976 §9.1): %s", a.header)
	}
}

func TestAnswerChallengeRefuses(t *testing.T) {
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
		if _, err := answerChallenge(ch, "AUTH", "msrp://r:1;tcp", "u", "p"); err == nil {
			t.Errorf("accepted challenge %q", ch)
		}
	}
	// A qop list containing auth, an opaque to echo, algorithm MD5 spelled in lower case.
	a, err := answerChallenge(`Digest realm="x", nonce="n", qop="auth-int,auth", opaque="op1", algorithm=md5`, "AUTH", "msrp://r:1;tcp", "u", "p")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.header, `opaque="op1"`) {
		t.Errorf("opaque not echoed: %s", a.header)
	}
}
