package sdp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// URI is an MSRP URI as found in a=path (RFC 4975 §6 and §9, RFC 7977
// §5.2.1). It is a syntax check only; bridge/msrp owns the full URI type.
type URI struct {
	// Secure is true for the "msrps" scheme.
	Secure bool
	// User is the userinfo before '@', or empty.
	User string
	// Host is a host name, an IPv4 address or an IPv6 address (without
	// brackets).
	Host string
	// Port is the explicit port, or 0 when absent.
	Port int
	// SessionID is the part after '/', or empty.
	SessionID string
	// Transport is "tcp", "ws" or another alphanumeric transport.
	Transport string
	// Params are the URI-parameters after the transport, as written.
	Params []string
}

// ParseURI checks the syntax of an MSRP URI:
//
//	MSRP-URI = msrp-scheme "://" authority ["/" session-id] ";" transport
//	           *( ";" URI-parameter )
//	session-id = 1*( unreserved / "+" / "=" / "/" )
//	transport  = "tcp" / 1*ALPHANUM
//
// The authority is "[userinfo@]host[:port]" with host a DNS name, an IPv4
// address or a bracketed IPv6 address (RFC 3986 §3.2). The scheme is matched
// case-insensitively.
func ParseURI(s string) (URI, error) {
	var u URI
	scheme, rest, ok := strings.Cut(s, "://")
	switch {
	case !ok:
		return u, fmt.Errorf("%q: not an msrp: or msrps: URI", s)
	case strings.EqualFold(scheme, "msrp"):
	case strings.EqualFold(scheme, "msrps"):
		u.Secure = true
	default:
		return u, fmt.Errorf("%q: scheme is not msrp or msrps", s)
	}
	// The transport is mandatory, so a ';' must follow the authority and
	// optional session-id; neither of them may contain ';'.
	hier, params, ok := strings.Cut(rest, ";")
	if !ok {
		return u, fmt.Errorf("%q: missing ;transport", s)
	}
	authority, session, hasSession := strings.Cut(hier, "/")
	if err := u.parseAuthority(authority); err != nil {
		return u, fmt.Errorf("%q: %v", s, err)
	}
	if hasSession {
		if session == "" || !isSessionID(session) {
			return u, fmt.Errorf("%q: bad session-id", s)
		}
		u.SessionID = session
	}
	fields := strings.Split(params, ";")
	u.Transport = fields[0]
	if u.Transport == "" || !isAlnum(u.Transport) {
		return u, fmt.Errorf("%q: bad transport %q", s, u.Transport)
	}
	for _, p := range fields[1:] {
		name, value, hasValue := strings.Cut(p, "=")
		if !isToken(name) || hasValue && !isToken(value) {
			return u, fmt.Errorf("%q: bad URI parameter %q", s, p)
		}
		u.Params = append(u.Params, p)
	}
	return u, nil
}

func (u *URI) parseAuthority(a string) error {
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		u.User = a[:i]
		if u.User == "" || !isUserinfo(u.User) {
			return fmt.Errorf("bad userinfo")
		}
		a = a[i+1:]
	}
	hostport := a
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return fmt.Errorf("unterminated IPv6 literal")
		}
		addr, err := netip.ParseAddr(a[1:end])
		if err != nil || !addr.Is6() {
			return fmt.Errorf("bad IPv6 literal")
		}
		u.Host = a[1:end]
		hostport = a[end+1:]
		if hostport != "" && hostport[0] != ':' {
			return fmt.Errorf("junk after IPv6 literal")
		}
	} else {
		host, _, _ := strings.Cut(a, ":")
		if !isHostname(host) {
			return fmt.Errorf("bad host %q", host)
		}
		u.Host = host
		hostport = a[len(host):]
	}
	if hostport == "" {
		return nil
	}
	port := hostport[1:]
	n, err := strconv.Atoi(port)
	if err != nil || !isDigits(port) || n < 1 || n > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	u.Port = n
	return nil
}

// isHostname accepts DNS names (letters, digits, '-', '.', '_') and IPv4
// addresses; RFC 4975 URIs use ".invalid" names for WebSocket clients.
func isHostname(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !isAlnumByte(c) && c != '-' && c != '.' && c != '_' {
			return false
		}
	}
	return true
}

// isUserinfo accepts RFC 3986 userinfo characters: unreserved, pct-encoded,
// sub-delims other than ';' (which would end the authority here) and ':'.
func isUserinfo(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isUnreserved(c), c == ':':
		case strings.IndexByte("!$&'()*+,=", c) >= 0:
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

func isSessionID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isUnreserved(c) && c != '+' && c != '=' && c != '/' {
			return false
		}
	}
	return true
}

func isUnreserved(c byte) bool {
	return isAlnumByte(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnumByte(s[i]) {
			return false
		}
	}
	return true
}

func isAlnumByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
