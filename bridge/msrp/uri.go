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
	for _, p := range strings.Split(u.Params, ";")[1:] {
		name, val, _ := strings.Cut(p, "=")
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
			c := host[i]
			if !(isAlnumByte(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '%' || c == '!' ||
				c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' || c == '*' || c == '+' || c == ',' ||
				c == '=') {
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
	var b strings.Builder
	if u.Secure {
		b.WriteString("msrps://")
	} else {
		b.WriteString("msrp://")
	}
	if u.User != "" {
		b.WriteString(u.User)
		b.WriteByte('@')
	}
	b.WriteString(u.HostPort())
	if u.SessionID != "" {
		b.WriteByte('/')
		b.WriteString(u.SessionID)
	}
	b.WriteByte(';')
	b.WriteString(u.Transport)
	b.WriteString(u.Params)
	return b.String()
}

// HostPort returns the authority without userinfo: "host:port", "[v6]:port", or "host" when
// the URI has no port.
func (u URI) HostPort() string {
	h := u.Host
	if strings.IndexByte(h, ':') >= 0 {
		h = "[" + h + "]"
	}
	if u.Port == 0 {
		return h
	}
	return h + ":" + strconv.Itoa(u.Port)
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
	var path []URI
	for _, f := range strings.Fields(s) {
		u, err := ParseURI(f)
		if err != nil {
			return nil, err
		}
		path = append(path, u)
	}
	if len(path) == 0 {
		return nil, uriError(s, "empty path")
	}
	return path, nil
}

// FormatPath joins URIs with single spaces, as a To-Path/From-Path/Use-Path value.
func FormatPath(path []URI) string {
	var b strings.Builder
	for i, u := range path {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(u.String())
	}
	return b.String()
}

func isSessionIDChar(c byte) bool {
	// session-id = 1*( unreserved / "+" / "=" / "/" ); unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
	return isAlnumByte(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '=' || c == '/'
}

func isAlnumByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnumByte(s[i]) {
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
		c := s[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '(' || c == ')' || c == ',' || c == '/' ||
			c == ':' || c == ';' || c == '<' || c == '=' || c == '>' || c == '?' || c == '@' ||
			c == '[' || c == '\\' || c == ']' {
			return false
		}
	}
	return true
}
