package sdp

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	pion "github.com/pion/sdp/v3"
)

// Status codes carried by *Error.
const (
	// StatusBadRequest is used when the body is not parseable SDP
	// (RFC 3261 §21.4.1).
	StatusBadRequest = 400
	// StatusNotAcceptableHere is used when the SDP parses but an MSRP media
	// line cannot be accepted (RFC 3261 §21.4.26).
	StatusNotAcceptableHere = 488
)

// MaxBodySize bounds the SDP bodies Check accepts; SIP itself bounds messages
// well below this, so a larger body is malformed input.
const MaxBodySize = 32 * 1024

// Error is a problem found in an SDP body. Reason is a short, printable
// ASCII text fit for a SIP reason phrase (no CR, LF or control characters).
type Error struct {
	// Code is StatusBadRequest or StatusNotAcceptableHere.
	Code int
	// Reason says what is wrong, e.g. "SDP m=message #1: missing a=path".
	Reason string
}

func (e *Error) Error() string { return e.Reason }

// Media is what Check learned about one m=message media description.
type Media struct {
	// Index is the position of the media description among all m= lines of
	// the body, from 0.
	Index int
	// Port is the m= line port; 0 means a refused stream (RFC 3264 §6).
	Port int
	// Proto is the transport protocol as written in the body, e.g.
	// "TCP/TLS/MSRP", or a legacy "TCP/WSS/MSRP".
	Proto string
	// Path holds the a=path URIs in order: the leftmost is the adjacent hop,
	// the rightmost the endpoint (RFC 4975 §8.2).
	Path []URI
	// AcceptTypes and AcceptWrappedTypes are the format-list entries of
	// a=accept-types and a=accept-wrapped-types (RFC 4975 §8.6).
	AcceptTypes        []string
	AcceptWrappedTypes []string
	// Setup is "active", "passive" or "actpass"; empty when absent or
	// "holdconn" (RFC 6135 §4.2.1).
	Setup string
	// MaxSize is the a=max-size value, or -1 when absent.
	MaxSize int64
}

// HasMSRP reports whether body contains an m=message media line, which is
// when a SIP element should call Check.
func HasMSRP(body []byte) bool {
	for line := range bytes.SplitSeq(body, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("m=message ")) {
			return true
		}
	}
	return false
}

// Check parses body as SDP and validates each m=message media description.
// offer tells whether body is an SDP offer (RFC 3264), which matters for
// a=setup:passive (RFC 6135 §4.2.2). It returns the MSRP media found, or an
// *Error whose Code is 400 when the body is not SDP and 488 when an MSRP
// media description is unacceptable. A body without m=message yields no
// media and no error once it parses.
func Check(body []byte, offer bool) ([]Media, error) {
	if len(body) > MaxBodySize {
		return nil, bad("SDP body larger than %d bytes", MaxBodySize)
	}
	norm, protos, err := normalise(body)
	if err != nil {
		return nil, err
	}
	var sd pion.SessionDescription
	if err := sd.UnmarshalString(norm); err != nil {
		return nil, bad("malformed SDP: %v", err)
	}
	if len(sd.MediaDescriptions) != len(protos) {
		return nil, bad("malformed SDP: media lines could not be matched")
	}
	var out []Media
	for i, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "message" {
			continue
		}
		m, err := checkMedia(i, md, protos[i], offer)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// normalise returns a copy of body that pion/sdp accepts when the original is
// otherwise valid: CRLF line endings, upper-case protos with the legacy
// WebSocket protos mapped, and a "t=0 0" line when none is present. It also
// returns the proto of each m= line as written in the original body.
func normalise(body []byte) (string, []string, error) {
	text := string(body)
	if strings.IndexByte(text, 0) >= 0 {
		return "", nil, bad("SDP contains a NUL byte")
	}
	// RFC 8866 §5 ends lines with CRLF (a bare LF is tolerated); a CR anywhere else would
	// split lines differently here and in pion/sdp.
	if strings.Contains(strings.ReplaceAll(text, "\r\n", "\n"), "\r") {
		return "", nil, bad("SDP contains a CR that does not end a line")
	}
	text = strings.TrimRight(text, "\r\n")
	lines := strings.Split(text, "\n")
	var (
		b       strings.Builder
		protos  []string
		hasTime bool
	)
	for _, line := range lines {
		if strings.HasPrefix(line, "t=") {
			hasTime = true
		}
	}
	b.Grow(len(text) + len(lines) + 8)
	for _, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		if strings.HasPrefix(line, "m=") {
			if !hasTime {
				b.WriteString("t=0 0\r\n")
				hasTime = true
			}
			fields := strings.Split(line, " ")
			if len(fields) >= 3 {
				protos = append(protos, fields[2])
				fields[2] = normaliseProto(fields[2])
				line = strings.Join(fields, " ")
			} else {
				protos = append(protos, "")
			}
		}
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	if !hasTime {
		b.WriteString("t=0 0\r\n")
	}
	return b.String(), protos, nil
}

// normaliseProto upper-cases proto and maps the legacy MSRP-over-WebSocket
// protos onto the ones RFC 7977 §5.2.2 prescribes.
func normaliseProto(proto string) string {
	p := strings.ToUpper(proto)
	switch p {
	case "TCP/WS/MSRP":
		return "TCP/MSRP"
	case "TCP/WSS/MSRP":
		return "TCP/TLS/MSRP"
	}
	return p
}

func checkMedia(index int, md *pion.MediaDescription, proto string, offer bool) (Media, error) {
	m := Media{Index: index, Port: md.MediaName.Port.Value, Proto: proto, MaxSize: -1}
	where := fmt.Sprintf("SDP m=message #%d", index+1)
	switch strings.ToUpper(proto) {
	case "TCP/MSRP", "TCP/TLS/MSRP", "TCP/WS/MSRP", "TCP/WSS/MSRP":
	default:
		return m, reject("%s: proto %q is not TCP/MSRP or TCP/TLS/MSRP", where, proto)
	}
	if md.MediaName.Port.Range != nil {
		return m, reject("%s: port ranges are not allowed", where)
	}
	var (
		paths, accepts, wrapped, setups, maxSizes int
	)
	for _, a := range md.Attributes {
		switch a.Key {
		case "path":
			paths++
			uris, err := parsePath(a.Value)
			if err != nil {
				return m, reject("%s: a=path: %v", where, err)
			}
			m.Path = uris
		case "accept-types":
			accepts++
			list, err := parseFormatList(a.Value)
			if err != nil {
				return m, reject("%s: a=accept-types: %v", where, err)
			}
			m.AcceptTypes = list
		case "accept-wrapped-types":
			wrapped++
			list, err := parseFormatList(a.Value)
			if err != nil {
				return m, reject("%s: a=accept-wrapped-types: %v", where, err)
			}
			m.AcceptWrappedTypes = list
		case "setup":
			setups++
			switch v := strings.TrimSpace(a.Value); v {
			case "active", "actpass":
				m.Setup = v
			case "passive":
				if offer {
					return m, reject("%s: a=setup:passive is not allowed in an offer (RFC 6135 4.2.2)", where)
				}
				m.Setup = v
			case "holdconn":
				// RFC 6135 §4.2.1: ignore, as if there were no a=setup.
			default:
				return m, reject("%s: a=setup value %q is not active, passive or actpass", where, v)
			}
		case "max-size":
			maxSizes++
			v := strings.TrimSpace(a.Value)
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || !isDigits(v) {
				return m, reject("%s: a=max-size %q is not a number", where, v)
			}
			m.MaxSize = n
		}
	}
	for _, dup := range []struct {
		n    int
		name string
	}{{paths, "path"}, {accepts, "accept-types"}, {wrapped, "accept-wrapped-types"}, {setups, "setup"}, {maxSizes, "max-size"}} {
		if dup.n > 1 {
			return m, reject("%s: a=%s appears %d times", where, dup.name, dup.n)
		}
	}
	if m.Port == 0 {
		// A refused stream (RFC 3264 §6) carries nothing to check.
		return m, nil
	}
	if paths == 0 {
		return m, reject("%s: missing a=path (RFC 4975 8.2)", where)
	}
	if accepts == 0 {
		return m, reject("%s: missing a=accept-types (RFC 4975 8.6)", where)
	}
	return m, nil
}

// parsePath parses an a=path value: MSRP URIs separated by single spaces
// (RFC 4975 §8.2). Surrounding and repeated white space is tolerated.
func parsePath(v string) ([]URI, error) {
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return nil, fmt.Errorf("empty")
	}
	uris := make([]URI, 0, len(fields))
	for i, f := range fields {
		u, err := ParseURI(f)
		if err != nil {
			return nil, fmt.Errorf("URI %d: %v", i+1, err)
		}
		if u.Port == 0 {
			return nil, fmt.Errorf("URI %d has no explicit port (RFC 4975 8.2)", i+1)
		}
		uris = append(uris, u)
	}
	if uris[len(uris)-1].SessionID == "" {
		return nil, fmt.Errorf("the endpoint URI (rightmost) has no session-id")
	}
	return uris, nil
}

// parseFormatList parses an accept-types or accept-wrapped-types value
// (RFC 4975 §8.6): format-entry *(SP format-entry), where format-entry is "*"
// or type "/" (subtype / "*") *(";" attribute "=" value).
func parseFormatList(v string) ([]string, error) {
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return nil, fmt.Errorf("empty")
	}
	for _, f := range fields {
		if err := checkFormatEntry(f); err != nil {
			return nil, fmt.Errorf("%q: %v", f, err)
		}
	}
	return fields, nil
}

func checkFormatEntry(f string) error {
	if f == "*" {
		return nil
	}
	mediaType, params, hasParams := strings.Cut(f, ";")
	typ, sub, ok := strings.Cut(mediaType, "/")
	if !ok {
		return fmt.Errorf("not type/subtype")
	}
	if !isToken(typ) {
		return fmt.Errorf("bad type")
	}
	if sub != "*" && !isToken(sub) {
		return fmt.Errorf("bad subtype")
	}
	if !hasParams {
		return nil
	}
	for p := range strings.SplitSeq(params, ";") {
		name, value, ok := strings.Cut(p, "=")
		if !ok || !isToken(name) {
			return fmt.Errorf("bad parameter %q", p)
		}
		if !isToken(value) && !isQuoted(value) {
			return fmt.Errorf("bad parameter value %q", value)
		}
	}
	return nil
}

// isToken reports whether s is a non-empty token (RFC 4975 §9).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case c == 0x21, c >= 0x23 && c <= 0x27, c == 0x2A, c == 0x2B, c == 0x2D, c == 0x2E,
		c >= 0x30 && c <= 0x39, c >= 0x41 && c <= 0x5A, c >= 0x5E && c <= 0x7E:
		return true
	}
	return false
}

// isQuoted reports whether s is a quoted-string without line breaks.
func isQuoted(s string) bool {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return false
	}
	inner := s[1 : len(s)-1]
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		switch {
		case c == '\\':
			if i+1 >= len(inner) {
				return false
			}
			i++
		case c == '"', c < 0x20 && c != '\t', c == 0x7f:
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func bad(format string, args ...any) *Error {
	return &Error{Code: StatusBadRequest, Reason: Sanitize(fmt.Sprintf(format, args...))}
}

func reject(format string, args ...any) *Error {
	return &Error{Code: StatusNotAcceptableHere, Reason: Sanitize(fmt.Sprintf(format, args...))}
}

// maxReason bounds reason phrases built from peer input.
const maxReason = 160

// Sanitize makes s fit for a SIP reason phrase (RFC 3261 §25.1
// Reason-Phrase): control characters and non-ASCII bytes become '?', and the
// text is cut to a bounded length.
func Sanitize(s string) string {
	b := []byte(s)
	if len(b) > maxReason {
		b = append(b[:maxReason-3], "..."...)
	}
	for i, c := range b {
		if c < 0x20 || c >= 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}
