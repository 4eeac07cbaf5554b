package msrp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// reference parses a path the way the package always has: strings.Fields, then ParseURI on
// each field; at least one URI.
func referencePath(s string) ([]URI, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, uriError(s, "empty path")
	}
	var path []URI
	for _, f := range fields {
		u, err := ParseURI(f)
		if err != nil {
			return nil, err
		}
		path = append(path, u)
	}
	return path, nil
}

func checkPathLikeReference(t *testing.T, s string) {
	t.Helper()
	got, err := ParsePath(s)
	want, werr := referencePath(s)
	if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		t.Fatalf("ParsePath(%q) error = %v, want %v", s, err, werr)
	}
	if len(got) != len(want) {
		t.Fatalf("ParsePath(%q) = %d URIs, want %d", s, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("ParsePath(%q)[%d] = %+v, want %+v", s, i, got[i], want[i])
		}
	}
}

// RFC 4975 §9 separates path URIs with SP; the parser also tolerates runs of any white space,
// and a URI's userinfo may hold bytes that only strings.Fields sees as white space.
func TestParsePathSplitting(t *testing.T) {
	const a, b = "msrp://a:1/x;tcp", "msrps://b.example.com:2855/y;ws"
	for _, s := range []string{
		a, a + " " + b, "  " + a + "   " + b + " ", a + "\t" + b, a + " \t\r\n\v\f" + b,
		a + "\u00a0" + b, a + "\u2003" + b, a + " \u0085 " + b, "msrp://u\u00a0v@h/x;tcp " + a,
		"msrp://u\tv@h/x;tcp", "msrp://u\u00e9v@h/x;tcp " + b, a + " bogus", "bogus " + a, "", " ", "\u00a0",
		strings.Repeat(a+" ", 4), strings.Repeat(b+" ", 5) + "\t" + a, strings.Repeat(a+" ", 9) + "bogus",
	} {
		checkPathLikeReference(t, s)
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"msrp://a:1/x;tcp msrp://b:2/y;ws", " msrp://a/b;tcp\tmsrp://c/d;tcp ",
		"msrp://u\u00a0v@h/x;tcp", "msrp://a/b;tcp\u2003msrp://c/d;tcp", strings.Repeat("msrp://a/b;tcp ", 6)} {
		f.Add(s)
	}
	f.Fuzz(checkPathLikeReference)
}

// A parsed message's strings are its own: the relay reuses the buffer the message came in.
func TestParsedStringsOutliveTheBuffer(t *testing.T) {
	raw := rfcExample(t, "4976-5.1-auth-200.msrp")
	buf := append([]byte(nil), raw...)
	m, err := Parse(buf)
	if err != nil {
		t.Fatal(err)
	}
	want := string(m.Bytes())
	for i := range buf {
		buf[i] = 'x'
	}
	if got := string(m.Bytes()); got != want {
		t.Fatalf("message changed with its buffer:\n%q\n%q", got, want)
	}

	// The Reader's buffer is reused by the next message.
	two := append(rfcExample(t, "4975-11.1-send.msrp"), rfcExample(t, "4975-11.4-chunk2.msrp")...)
	r := NewReader(bytes.NewReader(two), 0, 0)
	p, err := r.Next()
	if err != nil || !p.Final {
		t.Fatal(err)
	}
	first := p.Message
	want = string(first.AppendHead(nil))
	if p, err = r.Next(); err != nil || p.Message.TransactionID != "op2nc9a" {
		t.Fatalf("second message: %v", err)
	}
	if got := string(first.AppendHead(nil)); got != want {
		t.Fatalf("first message changed when the second was read:\n%q\n%q", got, want)
	}
}

// Paths of any length parse, also when To-Path and From-Path together hold more URIs than a
// parsed message keeps inline.
func TestParseLongPaths(t *testing.T) {
	uri := func(i int) string { return "msrp://h" + string(rune('a'+i)) + ":1/s;tcp" }
	join := func(from, to int) string {
		var s []string
		for i := from; i < to; i++ {
			s = append(s, uri(i))
		}
		return strings.Join(s, " ")
	}
	for _, n := range [][2]int{{1, 1}, {2, 2}, {3, 1}, {1, 3}, {3, 3}, {4, 1}, {1, 4}, {6, 5}} {
		to, from := join(0, n[0]), join(n[0], n[0]+n[1])
		raw := "MSRP abcd SEND\r\nTo-Path: " + to + "\r\nFrom-Path: " + from + "\r\n-------abcd$\r\n"
		for _, src := range []string{"Parse", "Reader"} {
			m, err := parseWith(src, raw)
			if err != nil {
				t.Fatalf("%s %v: %v", src, n, err)
			}
			if FormatPath(m.ToPath) != to || FormatPath(m.FromPath) != from {
				t.Fatalf("%s %v: paths %q / %q", src, n, FormatPath(m.ToPath), FormatPath(m.FromPath))
			}
			// Growing one path never overwrites the other.
			m.ToPath = append(m.ToPath, URI{Host: "z", Transport: "tcp"})
			if FormatPath(m.FromPath) != from {
				t.Fatalf("%s %v: append to To-Path changed From-Path to %q", src, n, FormatPath(m.FromPath))
			}
		}
	}
	// A From-Path that is empty once split on Unicode white space is refused, whether or not
	// the To-Path filled the inline storage.
	for _, to := range []string{join(0, 1), join(0, 4), join(0, 5)} {
		raw := "MSRP abcd SEND\r\nTo-Path: " + to + "\r\nFrom-Path: \u00a0\r\n-------abcd$\r\n"
		for _, src := range []string{"Parse", "Reader"} {
			_, err := parseWith(src, raw)
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Code != 400 || !strings.Contains(pe.Reason, "empty path") || FormatPath(pe.ToPath) != to {
				t.Fatalf("%s: From-Path of white space: %v", src, err)
			}
		}
	}
}

// parseWith parses the single message raw with Parse or with a Reader.
func parseWith(src, raw string) (*Message, error) {
	if src == "Parse" {
		return Parse([]byte(raw))
	}
	r := NewReader(strings.NewReader(raw), 0, 0)
	p, err := r.Next()
	if err != nil {
		return nil, err
	}
	if _, err := r.Next(); err != io.EOF {
		return nil, errors.New("more than one message")
	}
	return p.Message, nil
}

// URIs built rather than parsed are written in canonical form, in String and in AppendHead.
func TestBuiltURIText(t *testing.T) {
	cases := []struct {
		u    URI
		text string
		hp   string
	}{
		{URI{Host: "relay.example.com", Port: 2855, SessionID: "jui787s2f", Transport: "tcp"},
			"msrp://relay.example.com:2855/jui787s2f;tcp", "relay.example.com:2855"},
		{URI{Secure: true, User: "alice", Host: "intra.example.com", Transport: "tcp"},
			"msrps://alice@intra.example.com;tcp", "intra.example.com"},
		{URI{Secure: true, Host: "2001:db8::1", Port: 443, SessionID: "a+b=c/d", Transport: "ws", Params: ";x=y"},
			"msrps://[2001:db8::1]:443/a+b=c/d;ws;x=y", "[2001:db8::1]:443"},
		{URI{Host: "::1", Transport: "tcp"}, "msrp://[::1];tcp", "[::1]"},
	}
	for _, tc := range cases {
		if got := tc.u.String(); got != tc.text {
			t.Errorf("String() = %q, want %q", got, tc.text)
		}
		if got := tc.u.HostPort(); got != tc.hp {
			t.Errorf("HostPort() = %q, want %q", got, tc.hp)
		}
		if back, err := ParseURI(tc.text); err != nil || !back.Equal(tc.u) {
			t.Errorf("%q does not parse back to an equal URI: %v", tc.text, err)
		}
	}
	m := &Message{TransactionID: "abcd", Method: MethodSEND, ToPath: []URI{cases[0].u, cases[2].u},
		FromPath: []URI{mustURI(t, "msrp://a:1/s;tcp"), cases[1].u}}
	want := "MSRP abcd SEND\r\nTo-Path: " + cases[0].text + " " + cases[2].text +
		"\r\nFrom-Path: msrp://a:1/s;tcp " + cases[1].text + "\r\n"
	if got := string(m.AppendHead(nil)); got != want {
		t.Fatalf("AppendHead:\n%q\nwant\n%q", got, want)
	}
	if got := FormatPath(m.ToPath); got != cases[0].text+" "+cases[2].text {
		t.Fatalf("FormatPath = %q", got)
	}
}
