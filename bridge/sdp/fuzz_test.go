package sdp

import (
	"errors"
	"testing"
)

// FuzzCheck feeds arbitrary bodies to Check: it must never panic, must answer
// every failure with an *Error carrying 400 or 488 and a safe reason phrase,
// and whatever it accepts must satisfy the RFC 4975 §8.2 invariants.
func FuzzCheck(f *testing.F) {
	f.Add(rfc4975Offer, true)
	f.Add(rfc7977Offer, false)
	f.Add([]byte("v=0\nm=message 9 TCP/WSS/MSRP *\na=accept-types:*\na=path:msrps://x.invalid:9/a;ws\n"), true)
	f.Add([]byte("m=message 0 TCP/MSRP *\r\n"), false)
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=message 7 TCP/MSRP *\r\na=path:msrp://[::1]:7/s;tcp\r\na=accept-types:text/plain;a=\"b\"\r\n"), true)
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\rm=message 2 TCP/MSRP *\r\nm=message 3 TCP/MSRP *\r\n"), true)
	f.Fuzz(func(t *testing.T, body []byte, offer bool) {
		media, err := Check(body, offer)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not *Error", err)
			}
			if se.Code != StatusBadRequest && se.Code != StatusNotAcceptableHere {
				t.Fatalf("code %d", se.Code)
			}
			if se.Reason == "" || se.Reason != Sanitize(se.Reason) {
				t.Fatalf("unsafe reason %q", se.Reason)
			}
			return
		}
		for _, m := range media {
			if m.Port == 0 {
				continue
			}
			if len(m.Path) == 0 || len(m.AcceptTypes) == 0 {
				t.Fatalf("accepted media without path or accept-types: %+v", m)
			}
			for _, u := range m.Path {
				if u.Port == 0 || u.Transport == "" {
					t.Fatalf("accepted URI without port or transport: %+v", u)
				}
			}
			if m.Path[len(m.Path)-1].SessionID == "" {
				t.Fatalf("accepted endpoint URI without session-id")
			}
		}
	})
}

// FuzzParseURI checks that ParseURI never panics and that what it accepts has
// a host and a transport.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"msrp://atlanta.example.com:7654/jshA7weztas;tcp",
		"msrps://alice@a.example.com:443;ws",
		"msrp://[2001:db8::1]:2855/x;tcp;a=b",
		"msrp://h:1/%41;tcp",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		if u.Host == "" || u.Transport == "" {
			t.Fatalf("accepted %q without host or transport: %+v", s, u)
		}
	})
}
