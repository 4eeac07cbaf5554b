package auth

import (
	"errors"
	"fmt"
	"strings"
)

// MaxHeaderLen bounds the header values ParseParams accepts; real Digest
// headers are a few hundred bytes.
const MaxHeaderLen = 8 << 10

// ParseParams parses a credentials or challenge header value of the form
//
//	scheme name=value, name="quoted value", …
//
// (RFC 2617 §1.2 and §3.2, the auth-param syntax of RFC 7235 §2.1). It is
// lenient where clients differ and strict where input would be ambiguous:
//
//   - white space (SP, HTAB, and CR/LF from unfolded lines) may surround
//     '=' and ','; empty list elements (",,") are skipped;
//   - a value is a quoted-string, whose quoted-pairs ("\x") are unescaped, or
//     a bare value: any run of visible characters other than ',' and '"',
//     not starting with '=' (this accepts the unquoted qop and nc of RFC 2617, and also unquoted
//     realms, URIs and base64 nonces sent by lax clients);
//   - parameter names are returned in lower case (they are case-insensitive);
//     any order is accepted and unknown parameters are kept;
//   - the scheme is returned as written; compare it with strings.EqualFold.
//
// It fails on an empty or over-long (MaxHeaderLen) value, a missing scheme, a
// parameter without '=' or value, an unterminated quoted-string, a control
// character inside a quoted-string, a repeated parameter name, or garbage
// between parameters. It never panics.
func ParseParams(header string) (scheme string, params map[string]string, err error) {
	if len(header) > MaxHeaderLen {
		return "", nil, fmt.Errorf("auth: header longer than %d bytes", MaxHeaderLen)
	}
	p := paramParser{s: header}
	p.skipSpace()
	scheme = p.token()
	if scheme == "" {
		return "", nil, errors.New("auth: missing auth-scheme")
	}
	if !p.eof() && !isSpace(p.peek()) {
		return "", nil, fmt.Errorf("auth: unexpected %q after auth-scheme", p.peek())
	}
	params = make(map[string]string)
	for {
		p.skipSpace()
		if p.eof() {
			return scheme, params, nil
		}
		if p.peek() == ',' {
			p.i++
			continue
		}
		at := p.i
		name := p.token()
		if name == "" {
			return "", nil, fmt.Errorf("auth: expected a parameter name at offset %d, found %q", at, p.peek())
		}
		p.skipSpace()
		if p.eof() || p.peek() != '=' {
			return "", nil, fmt.Errorf("auth: parameter %q has no value", name)
		}
		p.i++
		p.skipSpace()
		var value string
		if !p.eof() && p.peek() == '"' {
			if value, err = p.quoted(); err != nil {
				return "", nil, fmt.Errorf("auth: parameter %q: %w", name, err)
			}
		} else if value = p.bare(); value == "" || value[0] == '=' {
			// "a==" is token68 (e.g. Basic credentials), not a parameter.
			return "", nil, fmt.Errorf("auth: parameter %q has an empty value", name)
		}
		key := strings.ToLower(name)
		if _, dup := params[key]; dup {
			return "", nil, fmt.Errorf("auth: parameter %q repeated", key)
		}
		params[key] = value
		p.skipSpace()
		if p.eof() {
			return scheme, params, nil
		}
		if p.peek() != ',' {
			return "", nil, fmt.Errorf("auth: unexpected %q after parameter %q", p.peek(), key)
		}
		p.i++
	}
}

// paramParser is a cursor over a header value.
type paramParser struct {
	s string
	i int
}

func (p *paramParser) eof() bool  { return p.i >= len(p.s) }
func (p *paramParser) peek() byte { return p.s[p.i] }

func (p *paramParser) skipSpace() {
	for !p.eof() && isSpace(p.peek()) {
		p.i++
	}
}

// token reads an RFC 7230 §3.2.6 token (possibly empty).
func (p *paramParser) token() string {
	start := p.i
	for !p.eof() && isTchar(p.peek()) {
		p.i++
	}
	return p.s[start:p.i]
}

// bare reads an unquoted value: visible characters (and bytes of UTF-8
// sequences) up to white space, ',' or '"'.
func (p *paramParser) bare() string {
	start := p.i
	for !p.eof() {
		c := p.peek()
		if c <= ' ' || c == 0x7f || c == ',' || c == '"' {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted-string (RFC 7230 §3.2.6) starting at '"' and returns
// its unescaped content.
func (p *paramParser) quoted() (string, error) {
	p.i++ // opening quote
	var b strings.Builder
	for !p.eof() {
		c := p.peek()
		p.i++
		switch {
		case c == '"':
			return b.String(), nil
		case c == '\\':
			if p.eof() {
				return "", errors.New("unterminated quoted-string")
			}
			c = p.peek()
			p.i++
			if isCTL(c) && c != '\t' {
				return "", fmt.Errorf("control character %q in quoted-string", c)
			}
		case isCTL(c) && c != '\t':
			return "", fmt.Errorf("control character %q in quoted-string", c)
		}
		b.WriteByte(c)
	}
	return "", errors.New("unterminated quoted-string")
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isCTL(c byte) bool { return c < 0x20 || c == 0x7f }

// isTchar reports whether c is an RFC 7230 §3.2.6 tchar.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// quote returns s as a quoted-string, escaping '"' and '\' (RFC 7230 §3.2.6).
// s must not contain control characters other than HTAB.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
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
