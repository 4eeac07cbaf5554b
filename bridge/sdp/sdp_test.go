package sdp

import (
	"errors"
	"strings"
	"testing"
)

// crlf joins SDP lines with CRLF and ends the body with one.
func crlf(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

// RFC 4975 §8.7 offer (first half of the example exchange).
var rfc4975Offer = crlf(
	"v=0",
	"o=alice 2890844526 2890844527 IN IP4 alice.example.com",
	"s= -",
	"c=IN IP4 alice.example.com",
	"t=0 0",
	"m=message 7394 TCP/MSRP *",
	"a=accept-types:message/cpim text/plain text/html",
	"a=path:msrp://alice.example.com:7394/2s93i9ek2a;tcp",
)

// RFC 7977 §8.3 style offer from a WebSocket client behind a relay.
var rfc7977Offer = crlf(
	"v=0",
	"o=- 2890844526 2890844527 IN IP4 a.example.com",
	"s=-",
	"c=IN IP4 a.example.com",
	"t=0 0",
	"m=message 1234 TCP/TLS/MSRP *",
	"a=accept-types:text/plain",
	"a=path:msrps://a.example.com:2855/jui787s2f;tcp msrps://df7jal23ls0d.invalid:2855/98cjs;ws",
	"a=setup:actpass",
)

func TestCheckAccepts(t *testing.T) {
	tests := []struct {
		name      string
		body      []byte
		offer     bool
		wantProto string
		wantPath  int
		wantSetup string
	}{
		{"RFC 4975 8.7 offer", rfc4975Offer, true, "TCP/MSRP", 1, ""},
		{"RFC 7977 offer via relay", rfc7977Offer, true, "TCP/TLS/MSRP", 2, "actpass"},
		{"RFC 7977 answer", crlf(
			"v=0", "o=- 1 1 IN IP4 bob.example.com", "s=-", "c=IN IP4 bob.example.com", "t=0 0",
			"m=message 49154 TCP/TLS/MSRP *",
			"a=accept-types:text/plain message/cpim;charset=utf-8",
			"a=path:msrps://bob.example.com:49154/foo;tcp",
			"a=setup:passive",
		), false, "TCP/TLS/MSRP", 1, "passive"},
		{"legacy TCP/WSS/MSRP", crlf(
			"v=0", "o=- 1 1 IN IP4 x.invalid", "s=-", "c=IN IP4 x.invalid", "t=0 0",
			"m=message 9 TCP/WSS/MSRP *",
			"a=accept-types:text/plain",
			"a=path:msrps://x.invalid:9/abc;ws",
			"a=setup:active",
		), true, "TCP/WSS/MSRP", 1, "active"},
		{"legacy TCP/WS/MSRP, LF line ends, no t=", []byte(
			"v=0\no=- 1 1 IN IP4 x.invalid\ns=-\nc=IN IP4 x.invalid\n" +
				"m=message 9 TCP/WS/MSRP *\na=accept-types:*\na=path:msrp://x.invalid:9/abc;ws\n"),
			true, "TCP/WS/MSRP", 1, ""},
		{"holdconn ignored", crlf(
			"v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 h", "t=0 0",
			"m=message 7 TCP/MSRP *", "a=accept-types:text/*", "a=path:msrp://h:7/s;tcp", "a=setup:holdconn",
		), true, "TCP/MSRP", 1, ""},
		{"refused stream needs no path", crlf(
			"v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 h", "t=0 0",
			"m=message 0 TCP/MSRP *",
		), false, "TCP/MSRP", 0, ""},
		{"IPv6 host, userinfo and max-size", crlf(
			"v=0", "o=- 1 1 IN IP6 ::1", "s=-", "c=IN IP6 ::1", "t=0 0",
			"m=message 2855 TCP/MSRP *", "a=accept-types:text/plain", "a=max-size:1048576",
			"a=path:msrp://bob@[2001:db8::1]:2855/a+b=c/d;tcp;foo=bar",
		), true, "TCP/MSRP", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !HasMSRP(tt.body) {
				t.Fatal("HasMSRP = false")
			}
			media, err := Check(tt.body, tt.offer)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if len(media) != 1 {
				t.Fatalf("got %d media, want 1", len(media))
			}
			m := media[0]
			if m.Proto != tt.wantProto || len(m.Path) != tt.wantPath || m.Setup != tt.wantSetup {
				t.Fatalf("got proto %q, %d path URIs, setup %q", m.Proto, len(m.Path), m.Setup)
			}
		})
	}
}

func TestCheckMaxSizeAndTypes(t *testing.T) {
	media, err := Check(crlf(
		"v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 h", "t=0 0",
		"m=audio 4000 RTP/AVP 0",
		"m=message 7 TCP/MSRP *", "a=accept-types:message/cpim", "a=accept-wrapped-types:text/plain text/html",
		"a=max-size:42", "a=path:msrp://h:7/s;tcp",
	), true)
	if err != nil {
		t.Fatal(err)
	}
	m := media[0]
	if m.Index != 1 || m.MaxSize != 42 || len(m.AcceptWrappedTypes) != 2 || m.AcceptTypes[0] != "message/cpim" {
		t.Fatalf("unexpected media %+v", m)
	}
	if m.Path[0].Host != "h" || m.Path[0].Port != 7 || m.Path[0].SessionID != "s" || m.Path[0].Transport != "tcp" {
		t.Fatalf("unexpected URI %+v", m.Path[0])
	}
}

func TestCheckRejects(t *testing.T) {
	head := []string{"v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 h", "t=0 0"}
	msrp := func(lines ...string) []byte { return crlf(append(append([]string{}, head...), lines...)...) }
	tests := []struct {
		name   string
		body   []byte
		offer  bool
		code   int
		reason string // substring of the reason phrase
	}{
		{"not SDP", []byte("hello\r\nm=message 1 TCP/MSRP *\r\n"), true, 400, "malformed SDP"},
		{"UDP/MSRP", msrp("m=message 7 UDP/MSRP *", "a=accept-types:*", "a=path:msrp://h:7/s;tcp"), true, 488, "is not TCP/MSRP"},
		{"unknown proto", msrp("m=message 7 TCP/FOO *", "a=accept-types:*", "a=path:msrp://h:7/s;tcp"), true, 400, "malformed SDP"},
		{"proto without MSRP", msrp("m=message 7 TCP/TLS *", "a=accept-types:*", "a=path:msrp://h:7/s;tcp"), true, 488, "is not TCP/MSRP"},
		{"missing path", msrp("m=message 7 TCP/MSRP *", "a=accept-types:*"), true, 488, "missing a=path"},
		{"missing accept-types", msrp("m=message 7 TCP/MSRP *", "a=path:msrp://h:7/s;tcp"), true, 488, "missing a=accept-types"},
		{"http URI in path", msrp("m=message 7 TCP/MSRP *", "a=accept-types:*", "a=path:http://h:7/s;tcp"), true, 488, "scheme"},
		{"no transport", msrp("m=message 7 TCP/MSRP *", "a=accept-types:*", "a=path:msrp://h:7/s"), true, 488, "missing ;transport"},
		{"no port", msrp("m=message 7 TCP/MSRP *", "a=accept-types:*", "a=path:msrp://h/s;tcp"), true, 488, "explicit port"},
		{"bad port", msrp("m=message 7 TCP/MSRP *", "a=accept-types:*", "a=path:msrp://h:99999/s;tcp"), true, 488, "bad port"},
		{"endpoint without session", msrp("m=message 7 TCP/MSRP *", "a=accept-types:*", "a=path:msrp://h:7;tcp"), true, 488, "session-id"},
		{"bad session id", msrp("m=message 7 TCP/MSRP *", "a=accept-types:*", "a=path:msrp://h:7/a%b;tcp"), true, 488, "session-id"},
		{"bad host", msrp("m=message 7 TCP/MSRP *", "a=accept-types:*", "a=path:msrp://h!x:7/s;tcp"), true, 488, "bad host"},
		{"empty path", msrp("m=message 7 TCP/MSRP *", "a=accept-types:*", "a=path: "), true, 488, "a=path"},
		{"bad accept type", msrp("m=message 7 TCP/MSRP *", "a=accept-types:text", "a=path:msrp://h:7/s;tcp"), true, 488, "accept-types"},
		{"bad accept param", msrp("m=message 7 TCP/MSRP *", "a=accept-types:text/plain;x", "a=path:msrp://h:7/s;tcp"), true, 488, "bad parameter"},
		{"bad setup", msrp("m=message 7 TCP/MSRP *", "a=accept-types:*", "a=path:msrp://h:7/s;tcp", "a=setup:maybe"), true, 488, "a=setup"},
		{"passive offer", msrp("m=message 7 TCP/MSRP *", "a=accept-types:*", "a=path:msrp://h:7/s;tcp", "a=setup:passive"), true, 488, "passive"},
		{"two paths", msrp("m=message 7 TCP/MSRP *", "a=accept-types:*", "a=path:msrp://h:7/s;tcp", "a=path:msrp://h:7/t;tcp"), true, 488, "appears 2 times"},
		{"bad max-size", msrp("m=message 7 TCP/MSRP *", "a=accept-types:*", "a=path:msrp://h:7/s;tcp", "a=max-size:-1"), true, 488, "max-size"},
		{"NUL byte", []byte("v=0\x00\r\nm=message 1 TCP/MSRP *\r\n"), true, 400, "NUL"},
		{"too large", append(msrp("m=message 7 TCP/MSRP *"), make([]byte, MaxBodySize)...), true, 400, "larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Check(tt.body, tt.offer)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Check error = %v, want *Error", err)
			}
			if se.Code != tt.code || !strings.Contains(se.Reason, tt.reason) {
				t.Fatalf("got %d %q, want %d containing %q", se.Code, se.Reason, tt.code, tt.reason)
			}
			if se.Reason != Sanitize(se.Reason) {
				t.Fatalf("reason %q is not a safe reason phrase", se.Reason)
			}
		})
	}
}

func TestHasMSRP(t *testing.T) {
	if HasMSRP([]byte("v=0\r\nm=audio 4000 RTP/AVP 0\r\n")) {
		t.Fatal("audio-only SDP reported as MSRP")
	}
	if !HasMSRP([]byte("v=0\nm=message 1 TCP/MSRP *\n")) {
		t.Fatal("LF-only MSRP SDP not detected")
	}
}

func TestSanitize(t *testing.T) {
	got := Sanitize("a\r\nb\x00c\u00e9" + strings.Repeat("x", 300))
	if strings.ContainsAny(got, "\r\n\x00") || len(got) > maxReason {
		t.Fatalf("Sanitize left unsafe text: %q", got)
	}
}

func TestParseURI(t *testing.T) {
	good := []string{
		"msrp://atlanta.example.com:7654/jshA7weztas;tcp",
		"msrps://alice@a.example.com:443;ws",
		"MSRPS://df7jal23ls0d.invalid:2855/98cjs;ws",
		"msrp://[::1]:2855/x;tcp",
		"msrp://10.0.0.1:1/a/b+c=;tcp;p=v;flag",
	}
	for _, s := range good {
		if _, err := ParseURI(s); err != nil {
			t.Errorf("ParseURI(%q): %v", s, err)
		}
	}
	badURIs := []string{
		"", "msrp:", "msrp://", "msrp://h:1/s", "msrp://h:1/s;", "msrp://h:1/s;t-p",
		"msrp://[::1:1/s;tcp", "msrp://[::1]x/s;tcp", "msrp://h:0/s;tcp", "msrp://@h:1/s;tcp",
		"msrp://h:1/;tcp", "msrp://h:1/s;tcp;=v", "msrp://h:+1/s;tcp", "sip://h:1/s;tcp",
		"msrp://[10.0.0.1]:1/s;tcp",
	}
	for _, s := range badURIs {
		if _, err := ParseURI(s); err == nil {
			t.Errorf("ParseURI(%q) accepted", s)
		}
	}
}

// A CR that does not end a line used to make the normaliser and pion/sdp disagree on the
// number of media lines, and Check panicked (found by bridge/sipua's FuzzAnswerMSRP).
func TestBareCRIsRejected(t *testing.T) {
	body := "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\rm=message 2 TCP/MSRP *\r\na=accept-types:*\r\na=path:msrp://h:2/s;tcp\r\n" +
		"m=message 3 TCP/MSRP *\r\na=accept-types:*\r\na=path:msrp://h:3/s;tcp\r\n"
	_, err := Check([]byte(body), true)
	var e *Error
	if !errors.As(err, &e) || e.Code != 400 {
		t.Fatalf("Check = %v, want a 400 error", err)
	}
}
