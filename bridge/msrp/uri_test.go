package msrp

import (
	"errors"
	"testing"
)

func TestParseURI(t *testing.T) {
	cases := []struct {
		in                         string
		secure                     bool
		user, host                 string
		port                       int
		session, transport, params string
	}{
		// RFC 4975 §6.
		{"msrp://host.example.com:8493/asfd34;tcp", false, "", "host.example.com", 8493, "asfd34", "tcp", ""},
		// RFC 4976 §5.1: a relay's own URI, with userinfo and without port or session.
		{"msrps://alice@intra.example.com;tcp", true, "alice", "intra.example.com", 0, "", "tcp", ""},
		// RFC 7977 §8.1.1: WebSocket client URI.
		{"msrps://df7jal23ls0d.invalid:2855/98cjs;ws", true, "", "df7jal23ls0d.invalid", 2855, "98cjs", "ws", ""},
		{"MSRP://[2001:db8::1]:2855/a+b=c/d;TCP;foo=bar;x", false, "", "2001:db8::1", 2855, "a+b=c/d", "TCP", ";foo=bar;x"},
		{"msrp://127.0.0.1:2855/x_y~z.1-2;tcp", false, "", "127.0.0.1", 2855, "x_y~z.1-2", "tcp", ""},
	}
	for _, tc := range cases {
		u, err := ParseURI(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if u.Secure != tc.secure || u.User != tc.user || u.Host != tc.host || u.Port != tc.port ||
			u.SessionID != tc.session || u.Transport != tc.transport || u.Params != tc.params {
			t.Errorf("%s: got %+v", tc.in, u)
		}
		if u.String() != tc.in {
			t.Errorf("%s: String() = %q", tc.in, u.String())
		}
		// A URI built from the fields formats to something that parses to an equal URI.
		built := URI{Secure: u.Secure, User: u.User, Host: u.Host, Port: u.Port, SessionID: u.SessionID, Transport: u.Transport, Params: u.Params}
		back, err := ParseURI(built.String())
		if err != nil || !back.Equal(u) {
			t.Errorf("%s: rebuilt %q: %v", tc.in, built.String(), err)
		}
	}
}

func TestParseURIErrors(t *testing.T) {
	for _, in := range []string{
		"", "msrp://", "msrp://host", "sip:host;tcp", "msrp://host:0/s;tcp", "msrp://host:99999/s;tcp",
		"msrp://host:/s;tcp", "msrp://host/;tcp", "msrp://host/s;", "msrp://host/s;t-c", "msrp://user:pw@host/s;tcp",
		"msrp://[::1/s;tcp", "msrp://[zz]/s;tcp", "msrp://ho st/s;tcp", "msrp://host/s?x;tcp", "msrp://host/s;tcp;a=b=c",
		"msrp://:80/s;tcp",
	} {
		if _, err := ParseURI(in); !errors.Is(err, ErrURI) {
			t.Errorf("%q: err = %v, want ErrURI", in, err)
		}
	}
}

// RFC 4975 §6.1 comparison rules.
func TestURIEqual(t *testing.T) {
	cases := []struct {
		a, b string
		eq   bool
	}{
		{"msrp://h.example:1/s;tcp", "MSRP://H.EXAMPLE:1/s;TCP", true},           // rules 1, 2, 5: case-insensitive
		{"msrp://alice@h.example:1/s;tcp", "msrp://bob@h.example:1/s;tcp", true}, // rule 2: userinfo ignored
		{"msrp://h.example:1/s;tcp", "msrps://h.example:1/s;tcp", false},         // rule 1
		{"msrp://h.example:1/s;tcp", "msrp://h.example/s;tcp", false},            // rule 3
		{"msrp://h.example:1/s;tcp", "msrp://h.example:2/s;tcp", false},          // rule 3
		{"msrp://h.example:1/s;tcp", "msrp://h.example:1/S;tcp", false},          // rule 4
		{"msrp://h.example:1/s;tcp", "msrp://h.example:1;tcp", false},            // rule 4
		{"msrp://h.example:1/s;tcp", "msrp://h.example:1/s;ws", false},           // rule 5
		{"msrp://[::1]:1/s;tcp", "msrp://[0:0::1]:1/s;tcp", true},                // rule 2: address equivalence
		{"msrp://h%2Eexample:1/s;tcp", "msrp://h.example:1/s;tcp", true},         // rule 2: percent-decoding
		{"msrp://h.example:1/s;tcp;a=b", "msrp://h.example:1/s;tcp", true},       // other params do not matter
	}
	for _, tc := range cases {
		a, err1 := ParseURI(tc.a)
		b, err2 := ParseURI(tc.b)
		if err1 != nil || err2 != nil {
			t.Fatalf("%v %v", err1, err2)
		}
		if a.Equal(b) != tc.eq || b.Equal(a) != tc.eq {
			t.Errorf("%s vs %s: Equal = %v, want %v", tc.a, tc.b, a.Equal(b), tc.eq)
		}
	}
}

func TestParsePath(t *testing.T) {
	p, err := ParsePath("msrp://a:1/x;tcp \t msrp://b:2/y;ws")
	if err != nil || len(p) != 2 || p[1].Host != "b" || FormatPath(p) != "msrp://a:1/x;tcp msrp://b:2/y;ws" {
		t.Fatalf("%v %v", p, err)
	}
	if _, err := ParsePath("  "); err == nil {
		t.Fatal("empty path accepted")
	}
}
