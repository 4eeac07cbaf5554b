package sipua

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"mime"
	"strconv"
	"strings"

	"github.com/simplegw/simplegw/bridge/msrp"
	"github.com/simplegw/simplegw/bridge/sdp"
)

// DefaultAcceptTypes is the a=accept-types of [MSRPLocal] when it gives none: CPIM and
// plain text first, then anything (RFC 4975 §8.6: explicit entries are preferred).
var DefaultAcceptTypes = []string{"message/cpim", "text/plain", "*"}

// a=setup values (RFC 6135 §4.2, from RFC 4145).
const (
	SetupActive  = "active"
	SetupPassive = "passive"
	SetupActpass = "actpass"
)

// MSRPLocal is this side of an MSRP session, for an SDP offer or answer.
type MSRPLocal struct {
	// Path is our session URI (RFC 4975 §8.2), msrp:// (TCP/MSRP) or msrps://
	// (TCP/TLS/MSRP), with the address and port we accept connections on (RFC 6135
	// §4.2.2 asks for a real one with actpass and passive).
	Path msrp.URI
	// AcceptTypes and AcceptWrappedTypes are written as a=accept-types (default
	// DefaultAcceptTypes) and a=accept-wrapped-types (default "*").
	AcceptTypes, AcceptWrappedTypes []string
	// MaxSize, when positive, is written as a=max-size (RFC 4975 §8.6).
	MaxSize int64
}

// MSRPRemote is what the peer's offer or answer says about its MSRP stream.
type MSRPRemote struct {
	// Path is the peer's a=path, leftmost (the first hop, the one to connect to) first;
	// it is the To-Path of what we send (RFC 4975 §8.2).
	Path []msrp.URI
	// AcceptTypes and AcceptWrappedTypes are the peer's format lists.
	AcceptTypes, AcceptWrappedTypes []string
	// Setup is the peer's a=setup ("" when absent).
	Setup string
	// Proto is the m= line's proto as written ("TCP/MSRP", "TCP/TLS/MSRP", or a legacy
	// "TCP/WSS/MSRP").
	Proto string
	// MaxSize is the peer's a=max-size, or -1.
	MaxSize int64
}

// Accepts reports whether the peer accepts a message of contentType at top level (RFC
// 4975 §8.6): listed exactly (parameters aside), as "type/*", or through "*".
func (r *MSRPRemote) Accepts(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	typ, _, _ := strings.Cut(mt, "/")
	for _, e := range r.AcceptTypes {
		e, _, _ = strings.Cut(e, ";")
		e = strings.ToLower(e)
		if e == "*" || e == mt || e == typ+"/*" {
			return true
		}
	}
	return false
}

// MSRPOffer returns an SDP offer for one MSRP stream (RFC 4975 §8, example §8.7) with
// a=setup:actpass (RFC 6135 §4.2.2: a UA that can accept connections offers actpass).
func MSRPOffer(l MSRPLocal) []byte {
	var b strings.Builder
	writeSession(&b, l.Path)
	writeMedia(&b, l, SetupActpass)
	return []byte(b.String())
}

// AnswerMSRP checks an SDP offer with package sdp and answers its first MSRP stream
// with l (RFC 3264 §6: one m= line per offered one, the others refused with port 0).
// It returns the answer, the peer's stream, and whether this side opens the
// connection:
//
//   - offer a=setup:active, or no a=setup (RFC 4975 §5.4 and §8.5: the offerer
//     connects): we are passive;
//   - a=setup:actpass: active when preferActive and the peer's first hop can be
//     dialled (not a WebSocket URI), else passive (RFC 6135 §4.2.2);
//   - a=setup:passive, which RFC 6135 §4.2.2 forbids in an offer but which says
//     plainly that the answerer must connect: we connect to the first URI of its path.
//
// A bad offer gives an *sdp.Error whose Code (400 or 488) and Reason suit the SIP
// response refusing the INVITE.
func AnswerMSRP(offer []byte, l MSRPLocal, preferActive bool) (answer []byte, remote *MSRPRemote, active bool, err error) {
	// Checked as an answer so that a=setup:passive is let through (see above).
	media, err := check(offer)
	if err != nil {
		return nil, nil, false, err
	}
	chosen := -1
	for i, m := range media {
		if m.Port != 0 {
			chosen = i
			break
		}
	}
	if chosen < 0 {
		return nil, nil, false, &sdp.Error{Code: sdp.StatusNotAcceptableHere, Reason: "no MSRP stream offered (m=message)"}
	}
	remote, err = remoteOf(media[chosen])
	if err != nil {
		return nil, nil, false, err
	}
	dialable := !remote.Path[0].IsWebSocket()
	switch remote.Setup {
	case SetupPassive:
		if !dialable {
			return nil, nil, false, &sdp.Error{Code: sdp.StatusNotAcceptableHere,
				Reason: "a=setup:passive with a WebSocket URI first in a=path: nobody can connect"}
		}
		active = true
	case SetupActpass:
		active = preferActive && dialable
	}
	setup := SetupPassive
	if active {
		setup = SetupActive
	}

	var b strings.Builder
	writeSession(&b, l.Path)
	for i, line := range mediaLines(offer) {
		if i == media[chosen].Index {
			writeMedia(&b, l, setup)
			continue
		}
		// RFC 3264 §6: a refused stream keeps its media, proto and formats, port 0.
		f := strings.Fields(strings.TrimPrefix(line, "m="))
		if len(f) < 3 {
			return nil, nil, false, &sdp.Error{Code: sdp.StatusBadRequest, Reason: sdp.Sanitize("malformed SDP m= line " + strconv.Quote(line))}
		}
		if len(f) == 3 {
			f = append(f, "*")
		}
		fmt.Fprintf(&b, "m=%s 0 %s %s\r\n", f[0], f[2], strings.Join(f[3:], " "))
	}
	return []byte(b.String()), remote, active, nil
}

// ReadMSRPAnswer checks an SDP answer to an offer of MSRPOffer and returns the peer's
// stream and whether this side (the offerer) opens the connection: not when the
// answer says a=setup:active, yes otherwise (RFC 6135 §4.2.2; RFC 4975 §5.4 for a
// peer without a=setup).
func ReadMSRPAnswer(answer []byte) (remote *MSRPRemote, active bool, err error) {
	media, err := check(answer)
	if err != nil {
		return nil, false, err
	}
	for _, m := range media {
		if m.Port == 0 {
			continue
		}
		remote, err := remoteOf(m)
		if err != nil {
			return nil, false, err
		}
		active = remote.Setup != SetupActive
		if active && remote.Path[0].IsWebSocket() {
			return nil, false, &sdp.Error{Code: sdp.StatusNotAcceptableHere,
				Reason: "the answer's a=path starts with a WebSocket URI, which cannot be dialled"}
		}
		return remote, active, nil
	}
	return nil, false, &sdp.Error{Code: sdp.StatusNotAcceptableHere, Reason: "the answer refuses the MSRP stream"}
}

// check runs sdp.Check on an offer or answer (as an answer: a=setup:passive passes).
// A CR that does not end a line is refused first: RFC 4566 §5 ends lines with CRLF (or
// LF), and package sdp's line splitting and pion's disagree about a lone CR.
func check(body []byte) ([]sdp.Media, error) {
	for i, c := range body {
		if c == '\r' && (i+1 == len(body) || body[i+1] != '\n') {
			return nil, &sdp.Error{Code: sdp.StatusBadRequest, Reason: "malformed SDP: CR without LF"}
		}
	}
	return sdp.Check(body, false)
}

// remoteOf converts what package sdp found into MSRP URIs.
func remoteOf(m sdp.Media) (*MSRPRemote, error) {
	r := &MSRPRemote{AcceptTypes: m.AcceptTypes, AcceptWrappedTypes: m.AcceptWrappedTypes, Setup: m.Setup,
		Proto: m.Proto, MaxSize: m.MaxSize}
	for _, u := range m.Path {
		mu, err := toMSRP(u)
		if err != nil {
			return nil, &sdp.Error{Code: sdp.StatusNotAcceptableHere, Reason: sdp.Sanitize(fmt.Sprintf("SDP m=message #%d: a=path: %v", m.Index+1, err))}
		}
		r.Path = append(r.Path, mu)
	}
	return r, nil
}

// toMSRP rebuilds a path URI package sdp has checked as package msrp's URI.
func toMSRP(u sdp.URI) (msrp.URI, error) {
	var b strings.Builder
	if u.Secure {
		b.WriteString("msrps://")
	} else {
		b.WriteString("msrp://")
	}
	if u.User != "" {
		b.WriteString(u.User + "@")
	}
	if strings.Contains(u.Host, ":") {
		b.WriteString("[" + u.Host + "]")
	} else {
		b.WriteString(u.Host)
	}
	if u.Port != 0 {
		b.WriteString(":" + strconv.Itoa(u.Port))
	}
	if u.SessionID != "" {
		b.WriteString("/" + u.SessionID)
	}
	b.WriteString(";" + u.Transport)
	for _, p := range u.Params {
		b.WriteString(";" + p)
	}
	return msrp.ParseURI(b.String())
}

// mediaLines returns the m= lines of a body package sdp has accepted, in order.
func mediaLines(body []byte) []string {
	var out []string
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.HasPrefix(line, "m=") {
			out = append(out, line)
		}
	}
	return out
}

// writeSession writes the session-level lines (RFC 4566 §5; RFC 4975 §8.1: c= names the
// host of our path URI).
func writeSession(b *strings.Builder, path msrp.URI) {
	var id [8]byte
	rand.Read(id[:])
	sess := binary.BigEndian.Uint64(id[:]) >> 2 // fits in 63 bits, as NTP-style ids do
	at := addrType(path.Host)
	fmt.Fprintf(b, "v=0\r\no=- %d %d IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\n", sess, sess, at, path.Host, at, path.Host)
}

// writeMedia writes our m=message line and its attributes (RFC 4975 §8.1, §8.2, §8.6;
// RFC 6135 §4.2).
func writeMedia(b *strings.Builder, l MSRPLocal, setup string) {
	proto := "TCP/MSRP"
	if l.Path.Secure {
		proto = "TCP/TLS/MSRP"
	}
	accept := l.AcceptTypes
	if len(accept) == 0 {
		accept = DefaultAcceptTypes
	}
	wrapped := l.AcceptWrappedTypes
	if len(wrapped) == 0 {
		wrapped = []string{"*"}
	}
	fmt.Fprintf(b, "m=message %d %s *\r\n", l.Path.Port, proto)
	fmt.Fprintf(b, "a=accept-types:%s\r\n", strings.Join(accept, " "))
	fmt.Fprintf(b, "a=accept-wrapped-types:%s\r\n", strings.Join(wrapped, " "))
	fmt.Fprintf(b, "a=path:%s\r\n", l.Path)
	fmt.Fprintf(b, "a=setup:%s\r\n", setup)
	if l.MaxSize > 0 {
		fmt.Fprintf(b, "a=max-size:%d\r\n", l.MaxSize)
	}
}

func addrType(host string) string {
	if strings.Contains(host, ":") {
		return "IP6"
	}
	return "IP4"
}
