package msrp

import (
	"errors"
	"net"
	"strconv"
	"strings"
)

// URI is an MSRP URI (RFC 4975 §6, §9; RFC 7977 §5.2.1):
//
//	msrp-scheme "://" authority ["/" session-id] ";" transport *( ";" URI-parameter)
//
// The zero value is not a valid URI. A URI parsed by [ParseURI] keeps its original text, which
// [URI.String] returns unchanged, so paths are forwarded byte for byte.
type URI struct {
	Secure    bool   // scheme "msrps" (TLS required) rather than "msrp"
	User      string // userinfo, without the "@"; not used in comparisons
	Host      string // host name or IP address (IPv6 without brackets)
	Port      int    // 0 when the authority has no explicit port
	SessionID string // empty for a URI naming a device rather than a session
	Transport string // "tcp", "ws", or another token (lower case as received)
	Params    string // further ";name[=value]" parameters, verbatim including the leading ";"

	raw string
}

// ErrURI is wrapped by every error [ParseURI] returns.
var ErrURI = errors.New("msrp: bad URI")

func uriError(s, why string) error {
	return &uriErr{s: s, why: why}
}

type uriErr struct{ s, why string }

func (e *uriErr) Error() string { return "msrp: bad URI " + strconv.Quote(e.s) + ": " + e.why }
func (e *uriErr) Unwrap() error { return ErrURI }

// ParseURI parses one MSRP URI. The transport parameter is required (RFC 4975 §6: "URIs
// designating MSRP over TCP MUST include the tcp transport parameter").
func ParseURI(s string) (URI, error) {
	var u URI
	rest := s
	switch {
	case len(rest) >= 7 && strings.EqualFold(rest[:7], "msrp://"):
		rest = rest[7:]
	case len(rest) >= 8 && strings.EqualFold(rest[:8], "msrps://"):
		u.Secure = true
		rest = rest[8:]
	default:
		return URI{}, uriError(s, "scheme must be msrp or msrps")
	}
	semi := strings.IndexByte(rest, ';')
	if semi < 0 {
		return URI{}, uriError(s, "no transport parameter")
	}
	hier, params := rest[:semi], rest[semi+1:]
	authority := hier
	if slash := strings.IndexByte(hier, '/'); slash >= 0 {
		authority, u.SessionID = hier[:slash], hier[slash+1:]
		if u.SessionID == "" {
			return URI{}, uriError(s, "empty session-id")
		}
		for i := 0; i < len(u.SessionID); i++ {
			if !isSessionIDChar(u.SessionID[i]) {
				return URI{}, uriError(s, "bad character in session-id")
			}
		}
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		u.User, authority = authority[:at], authority[at+1:]
		if strings.IndexByte(u.User, ':') >= 0 {
			// RFC 4975 §6: "A userinfo part MUST NOT contain password information."
			return URI{}, uriError(s, "userinfo must not carry a password")
		}
	}
	host, port, err := splitHostPort(authority)
	if err != nil {
		return URI{}, uriError(s, err.Error())
	}
	u.Host, u.Port = host, port
	transport := params
	if semi := strings.IndexByte(params, ';'); semi >= 0 {
		transport, u.Params = params[:semi], params[semi:]
	}
	if transport == "" || !isAlnum(transport) {
		return URI{}, uriError(s, "bad transport parameter")
	}
	u.Transport = transport
	// URI-parameter = token ["=" token]; u.Params is empty or begins with ";".
	for p := u.Params; p != ""; {
		p = p[1:]
		param := p
		if semi := strings.IndexByte(p, ';'); semi >= 0 {
			param, p = p[:semi], p[semi:]
		} else {
			p = ""
		}
		name, val, _ := strings.Cut(param, "=")
		if !isToken(name) || (val != "" && !isToken(val)) {
			return URI{}, uriError(s, "bad URI parameter")
		}
	}
	u.raw = s
	return u, nil
}

func splitHostPort(a string) (host string, port int, err error) {
	if a == "" {
		return "", 0, errors.New("empty authority")
	}
	var portStr string
	if a[0] == '[' {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", 0, errors.New("unclosed IPv6 literal")
		}
		host = a[1:end]
		if net.ParseIP(host) == nil {
			return "", 0, errors.New("bad IPv6 literal")
		}
		switch after := a[end+1:]; {
		case after == "":
		case after[0] == ':':
			portStr = after[1:]
			if portStr == "" {
				return "", 0, errors.New("empty port")
			}
		default:
			return "", 0, errors.New("junk after IPv6 literal")
		}
	} else {
		host = a
		if colon := strings.LastIndexByte(a, ':'); colon >= 0 {
			host, portStr = a[:colon], a[colon+1:]
			if portStr == "" {
				return "", 0, errors.New("empty port")
			}
		}
		if host == "" {
			return "", 0, errors.New("empty host")
		}
		for i := 0; i < len(host); i++ {
			if charClass[host[i]]&cHost == 0 {
				return "", 0, errors.New("bad character in host")
			}
		}
	}
	if portStr != "" {
		p, err := strconv.Atoi(portStr)
		if err != nil || p < 1 || p > 65535 || portStr[0] == '+' || portStr[0] == '-' {
			return "", 0, errors.New("bad port")
		}
		port = p
	}
	return host, port, nil
}

// String returns the URI's text: the original text for a parsed URI, or a canonical form.
func (u URI) String() string {
	if u.raw != "" {
		return u.raw
	}
	var buf [128]byte
	return string(u.appendTo(buf[:0]))
}

// appendTo appends the URI's text, as [URI.String] returns it, to b.
func (u URI) appendTo(b []byte) []byte {
	if u.raw != "" {
		return append(b, u.raw...)
	}
	if u.Secure {
		b = append(b, "msrps://"...)
	} else {
		b = append(b, "msrp://"...)
	}
	if u.User != "" {
		b = append(b, u.User...)
		b = append(b, '@')
	}
	b = appendHostPort(b, u.Host, u.Port)
	if u.SessionID != "" {
		b = append(b, '/')
		b = append(b, u.SessionID...)
	}
	b = append(b, ';')
	b = append(b, u.Transport...)
	return append(b, u.Params...)
}

// HostPort returns the authority without userinfo: "host:port", "[v6]:port", or "host" when
// the URI has no port.
func (u URI) HostPort() string {
	if u.Port == 0 && strings.IndexByte(u.Host, ':') < 0 {
		return u.Host
	}
	var buf [64]byte
	return string(appendHostPort(buf[:0], u.Host, u.Port))
}

func appendHostPort(b []byte, host string, port int) []byte {
	if strings.IndexByte(host, ':') >= 0 {
		b = append(b, '[')
		b = append(b, host...)
		b = append(b, ']')
	} else {
		b = append(b, host...)
	}
	if port != 0 {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(port), 10)
	}
	return b
}

// Equal reports whether u and v name the same resource under the rules of RFC 4975 §6.1:
// scheme must match; userinfo is ignored; hosts compare as addresses when both are IP
// literals and case-insensitively otherwise; an explicit port never equals an absent one;
// session-ids compare case-sensitively; transports compare case-insensitively.
func (u URI) Equal(v URI) bool {
	if u.Secure != v.Secure || u.Port != v.Port || u.SessionID != v.SessionID {
		return false
	}
	if !strings.EqualFold(u.Transport, v.Transport) {
		return false
	}
	if ua, va := net.ParseIP(unescapeHost(u.Host)), net.ParseIP(unescapeHost(v.Host)); ua != nil && va != nil {
		return ua.Equal(va)
	}
	return strings.EqualFold(unescapeHost(u.Host), unescapeHost(v.Host))
}

// unescapeHost decodes percent-encoded unreserved characters (RFC 4975 §6.1 rule 2).
func unescapeHost(h string) string {
	if strings.IndexByte(h, '%') < 0 {
		return h
	}
	var b strings.Builder
	for i := 0; i < len(h); i++ {
		if h[i] == '%' && i+2 < len(h) {
			if n, err := strconv.ParseUint(h[i+1:i+3], 16, 8); err == nil {
				c := byte(n)
				if isAlnumByte(c) || c == '-' || c == '.' || c == '_' || c == '~' {
					b.WriteByte(c)
					i += 2
					continue
				}
			}
		}
		b.WriteByte(h[i])
	}
	return b.String()
}

// IsWebSocket reports whether the URI names an MSRP-over-WebSocket endpoint (transport "ws",
// RFC 7977 §5.2.1). Such URIs are never dialled: their hosts are usually ".invalid".
func (u URI) IsWebSocket() bool { return strings.EqualFold(u.Transport, "ws") }

// ParsePath parses a To-Path, From-Path or Use-Path value: one or more URIs separated by
// spaces (RFC 4975 §9, RFC 4976 §7). Runs of spaces and tabs are tolerated.
func ParsePath(s string) ([]URI, error) {
	// Room for every piece between single spaces (other white space makes parsePathInto
	// report more, and the long way splits the path again).
	path := make([]URI, strings.Count(s, " ")+1)
	n, more, err := parsePathInto(path, s)
	switch {
	case err != nil:
		return nil, err
	case more:
		return parseLongPath(s)
	case n == 0:
		return nil, uriError(s, "empty path")
	}
	return path[:n:n], nil
}

// parseLongPath parses a path of any length into a slice of its own.
func parseLongPath(s string) ([]URI, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, uriError(s, "empty path")
	}
	path := make([]URI, len(fields))
	for i, f := range fields {
		u, err := ParseURI(f)
		if err != nil {
			return nil, err
		}
		path[i] = u
	}
	return path, nil
}

// parsePathInto parses the URIs of the path value s into dst while they fit, splitting s as
// [strings.Fields] does. It returns how many it parsed, and more=true when s holds URIs that
// did not fit (then nothing is checked: the caller parses s again with room for all). The
// URIs' strings are substrings of s.
//
// The fast path splits at single spaces only. It is exact because a URI that ParseURI accepts
// holds no white space or non-ASCII byte outside its userinfo: whenever a piece is refused, or
// its userinfo holds such a byte, s is split again by strings.Fields.
func parsePathInto(dst []URI, s string) (n int, more bool, err error) {
	for rest := s; rest != ""; {
		piece := rest
		if sp := strings.IndexByte(rest, ' '); sp >= 0 {
			piece, rest = rest[:sp], rest[sp+1:]
		} else {
			rest = ""
		}
		if piece == "" {
			continue
		}
		if n == len(dst) {
			return n, true, nil
		}
		u, err := ParseURI(piece)
		if err != nil || !plainASCII(u.User) {
			return parsePathFields(dst, s)
		}
		dst[n] = u
		n++
	}
	return n, false, nil
}

// parsePathFields is parsePathInto splitting s with strings.Fields (any Unicode white space).
func parsePathFields(dst []URI, s string) (n int, more bool, err error) {
	fields := strings.Fields(s)
	if len(fields) > len(dst) {
		return 0, true, nil
	}
	for i, f := range fields {
		if dst[i], err = ParseURI(f); err != nil {
			return i, false, err
		}
	}
	return len(fields), false, nil
}

// plainASCII reports whether s has neither white space nor non-ASCII bytes.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if charClass[s[i]]&(cSpace|cHigh) != 0 {
			return false
		}
	}
	return true
}

// FormatPath joins URIs with single spaces, as a To-Path/From-Path/Use-Path value.
func FormatPath(path []URI) string {
	var buf [256]byte
	return string(appendPath(buf[:0], path))
}

// Character classes of RFC 4975 §9 and RFC 3986 §3.2.2, looked up by byte.
const (
	cAlnum   uint8 = 1 << iota // ALPHA / DIGIT
	cHost                      // reg-name: unreserved / pct-encoded ("%") / sub-delims
	cSession                   // session-id = 1*( unreserved / "+" / "=" / "/" )
	cToken                     // token
	cIdent                     // ident-char = ALPHANUM / "." / "-" / "+" / "%" / "="
	cSpace                     // ASCII white space, as strings.Fields splits on it
	cHigh                      // not ASCII
	cCtl                       // a control character other than HTAB, refused in header values
)

var charClass = func() (t [256]uint8) {
	for i := range t {
		c := byte(i)
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		unreserved := alnum || c == '-' || c == '.' || c == '_' || c == '~'
		if alnum {
			t[i] |= cAlnum
		}
		if unreserved || c == '%' || c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' ||
			c == '*' || c == '+' || c == ',' || c == '=' {
			t[i] |= cHost
		}
		if unreserved || c == '+' || c == '=' || c == '/' {
			t[i] |= cSession
		}
		if !(c <= 0x20 || c >= 0x7f || c == '"' || c == '(' || c == ')' || c == ',' || c == '/' ||
			c == ':' || c == ';' || c == '<' || c == '=' || c == '>' || c == '?' || c == '@' ||
			c == '[' || c == '\\' || c == ']') {
			t[i] |= cToken
		}
		if alnum || c == '.' || c == '-' || c == '+' || c == '%' || c == '=' {
			t[i] |= cIdent
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' {
			t[i] |= cSpace
		}
		if c >= 0x80 {
			t[i] |= cHigh
		}
		if c < 0x20 && c != '\t' || c == 0x7f {
			t[i] |= cCtl
		}
	}
	return t
}()

func isSessionIDChar(c byte) bool { return charClass[c]&cSession != 0 }

func isAlnumByte(c byte) bool { return charClass[c]&cAlnum != 0 }

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if charClass[s[i]]&cAlnum == 0 {
			return false
		}
	}
	return true
}

// isToken implements RFC 4975 §9 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if charClass[s[i]]&cToken == 0 {
			return false
		}
	}
	return true
}
