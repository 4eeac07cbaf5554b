package auth

import (
	"maps"
	"sort"
	"strings"
	"testing"
)

func TestParseParams(t *testing.T) {
	tests := []struct {
		name   string
		header string
		scheme string
		params map[string]string
	}{
		{
			name: "RFC 2617 §3.5 challenge",
			header: `Digest
                 realm="testrealm@host.com",
                 qop="auth,auth-int",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
			scheme: "Digest",
			params: map[string]string{
				"realm":  "testrealm@host.com",
				"qop":    "auth,auth-int",
				"nonce":  "dcd98b7102dd2f0e8b11d0f600bfb0c093",
				"opaque": "5ccc069c403ebaf9f0171e9517f40e41",
			},
		},
		{
			name: "RFC 2617 §3.5 authorization",
			header: `Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
			scheme: "Digest",
			params: map[string]string{
				"username": "Mufasa",
				"realm":    "testrealm@host.com",
				"nonce":    "dcd98b7102dd2f0e8b11d0f600bfb0c093",
				"uri":      "/dir/index.html",
				"qop":      "auth",
				"nc":       "00000001",
				"cnonce":   "0a4f113b",
				"response": "6629fae49393a05397450978507c4ef1",
				"opaque":   "5ccc069c403ebaf9f0171e9517f40e41",
			},
		},
		{
			// The "\" line continuations of the RFC are not on the wire.
			name: "RFC 4976 §5.1 AUTH authorization",
			header: `Digest username="Alice", realm="intra.example.com", ` +
				`nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ` +
				`qop=auth, nc=00000001, cnonce="0a4f113b", ` +
				`response="6629fae49393a05397450978507c4ef1"`,
			scheme: "Digest",
			params: map[string]string{
				"username": "Alice",
				"realm":    "intra.example.com",
				"nonce":    "dcd98b7102dd2f0e8b11d0f600bfb0c093",
				"qop":      "auth",
				"nc":       "00000001",
				"cnonce":   "0a4f113b",
				"response": "6629fae49393a05397450978507c4ef1",
			},
		},
		{
			name:   "RFC 4976 §5.1 challenge",
			header: `Digest realm="intra.example.com", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"`,
			scheme: "Digest",
			params: map[string]string{
				"realm": "intra.example.com",
				"qop":   "auth",
				"nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
			},
		},
		{
			name: "RFC 7977 §8.1.2 F5 authorization",
			header: `Digest username="alice", realm="example.com", ` +
				`nonce="UvtfpVL7XnnJ63EE244fXDthfLihlMHOY4+dd4A=", ` +
				`uri="msrps://alice@a.example.com:443;ws", ` +
				`response="5011d0d58fe975e0d0cdc007ae26f4b7", ` +
				`qop=auth, cnonce="zic5ml401prb", nc=00000001`,
			scheme: "Digest",
			params: map[string]string{
				"username": "alice",
				"realm":    "example.com",
				"nonce":    "UvtfpVL7XnnJ63EE244fXDthfLihlMHOY4+dd4A=",
				"uri":      "msrps://alice@a.example.com:443;ws",
				"response": "5011d0d58fe975e0d0cdc007ae26f4b7",
				"qop":      "auth",
				"cnonce":   "zic5ml401prb",
				"nc":       "00000001",
			},
		},
		{
			name:   "RFC 7977 §8.1.2 F4 challenge",
			header: `Digest realm="example.com", nonce="UvtfpVL7XnnJ63EE244fXDthfLihlMHOY4+dd4A=", qop="auth"`,
			scheme: "Digest",
			params: map[string]string{
				"realm": "example.com",
				"nonce": "UvtfpVL7XnnJ63EE244fXDthfLihlMHOY4+dd4A=",
				"qop":   "auth",
			},
		},
		{
			name:   "quoted-pair escapes",
			header: `Digest username="a\"b\\c\d", realm="x, y = z"`,
			scheme: "Digest",
			params: map[string]string{"username": `a"b\cd`, "realm": "x, y = z"},
		},
		{
			name:   "white space around = and , and tabs",
			header: "  Digest\tusername = \"bob\" ,\trealm\t=\"r\"  ,  nc =00000002  ",
			scheme: "Digest",
			params: map[string]string{"username": "bob", "realm": "r", "nc": "00000002"},
		},
		{
			name:   "folded lines",
			header: "Digest username=\"bob\",\r\n realm=\"r\"",
			scheme: "Digest",
			params: map[string]string{"username": "bob", "realm": "r"},
		},
		{
			name:   "upper-case names and scheme kept as written",
			header: `DIGEST UserName="bob", QOP=auth, Algorithm=MD5`,
			scheme: "DIGEST",
			params: map[string]string{"username": "bob", "qop": "auth", "algorithm": "MD5"},
		},
		{
			name:   "lax unquoted values (RFC 2617 §3.2.2.4 realm, uri, base64 nonce)",
			header: `Digest realm=myhost@testrealm.com, uri=sip:alice@example.com;transport=ws, nonce=ab+/cd==`,
			scheme: "Digest",
			params: map[string]string{
				"realm": "myhost@testrealm.com",
				"uri":   "sip:alice@example.com;transport=ws",
				"nonce": "ab+/cd==",
			},
		},
		{
			name:   "quoted qop and empty quoted value",
			header: `Digest qop="auth", opaque=""`,
			scheme: "Digest",
			params: map[string]string{"qop": "auth", "opaque": ""},
		},
		{
			name:   "empty list elements and unknown params",
			header: `Digest ,, username="u",,, x-custom=1, userhash=false,`,
			scheme: "Digest",
			params: map[string]string{"username": "u", "x-custom": "1", "userhash": "false"},
		},
		{
			name:   "UTF-8 in quoted and bare values",
			header: `Digest username="zoë", realm=café`,
			scheme: "Digest",
			params: map[string]string{"username": "zoë", "realm": "café"},
		},
		{
			name:   "scheme only",
			header: "Digest",
			scheme: "Digest",
			params: map[string]string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scheme, params, err := ParseParams(tc.header)
			if err != nil {
				t.Fatalf("ParseParams: %v", err)
			}
			if scheme != tc.scheme {
				t.Errorf("scheme = %q, want %q", scheme, tc.scheme)
			}
			if !maps.Equal(params, tc.params) {
				t.Errorf("params = %q\nwant     %q", params, tc.params)
			}
		})
	}
}

func TestParseParamsErrors(t *testing.T) {
	tests := []struct {
		name, header, wantErr string
	}{
		{"empty", "", "missing auth-scheme"},
		{"blank", "   ", "missing auth-scheme"},
		{"no scheme", `username="a"`, "unexpected '='"},
		{"scheme starts with quote", `"Digest" a=b`, "missing auth-scheme"},
		{"param without =", `Digest username`, `"username" has no value`},
		{"param without value", `Digest username=`, `"username" has an empty value`},
		{"param with only comma", `Digest username=,realm=r`, `"username" has an empty value`},
		{"unterminated quote", `Digest username="abc`, "unterminated quoted-string"},
		{"escape at end", `Digest username="abc\`, "unterminated quoted-string"},
		{"control char in quotes", "Digest username=\"a\x00b\"", "control character"},
		{"newline in quotes", "Digest username=\"a\nb\"", "control character"},
		{"escaped control char", "Digest username=\"a\\\x01\"", "control character"},
		{"repeated param", `Digest nonce="a", NONCE="b"`, `"nonce" repeated`},
		{"garbage after value", `Digest username="a" realm="b"`, `unexpected 'r' after parameter "username"`},
		{"quote after bare value", `Digest username=a"b"`, `unexpected '"' after parameter "username"`},
		{"bad name", `Digest =x`, "expected a parameter name"},
		{"bad char after scheme", `Digest/1 a=b`, "after auth-scheme"},
		{"too long", "Digest a=" + strings.Repeat("x", MaxHeaderLen), "longer than"},
		{"token68 (Basic)", `Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==`, "has an empty value"},
		{"token68 without padding", `Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ`, "has no value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scheme, params, err := ParseParams(tc.header)
			if err == nil {
				t.Fatalf("ParseParams(%q) = %q, %q; want error", tc.header, scheme, params)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
			if scheme != "" || params != nil {
				t.Errorf("on error got scheme %q, params %q; want zero values", scheme, params)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":          `""`,
		"plain":     `"plain"`,
		`a"b`:       `"a\"b"`,
		`back\sl`:   `"back\\sl"`,
		"tab\there": "\"tab\there\"",
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// serialize writes scheme and params back as a header, every value quoted,
// names sorted.
func serialize(scheme string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(scheme)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(k + "=" + quote(params[k]))
	}
	return b.String()
}

func FuzzParseParams(f *testing.F) {
	for _, s := range []string{
		`Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
		`Digest realm="example.com", nonce="UvtfpVL7XnnJ63EE244fXDthfLihlMHOY4+dd4A=", qop="auth"`,
		`Digest username="alice", realm="example.com", nonce="UvtfpVL7XnnJ63EE244fXDthfLihlMHOY4+dd4A=", uri="msrps://alice@a.example.com:443;ws", response="5011d0d58fe975e0d0cdc007ae26f4b7", qop=auth, cnonce="zic5ml401prb", nc=00000001`,
		`Digest username="a\"b\\c", realm=r,,`,
		"Digest username=\"bob\",\r\n realm=\"r\"",
		`Digest username="abc\`,
		`Digest a=b c=d`,
		`Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==`,
		`Digest`,
		``,
		`"`,
		`Digest =`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		scheme, params, err := ParseParams(header)
		if err != nil {
			if scheme != "" || params != nil {
				t.Fatalf("error %v with non-zero results %q %q", err, scheme, params)
			}
			return
		}
		if scheme == "" || params == nil {
			t.Fatalf("success with empty scheme or nil params: %q %q", scheme, params)
		}
		for k := range params {
			if k == "" || k != strings.ToLower(k) {
				t.Fatalf("bad parameter name %q", k)
			}
		}
		// Writing the result back with every value quoted must give the
		// same result again.
		again := serialize(scheme, params)
		if len(again) > MaxHeaderLen {
			return
		}
		scheme2, params2, err := ParseParams(again)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", again, err)
		}
		if scheme2 != scheme || !maps.Equal(params, params2) {
			t.Fatalf("round trip changed %q %q into %q %q", scheme, params, scheme2, params2)
		}
	})
}
