package sipedge

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/simplegw/simplegw/bridge/sdp"
)

// branchPrefix starts the Via branch of every request the edge sends: the
// RFC 3261 §8.1.1.7 magic cookie and a mark of ours.
const branchPrefix = sip.RFC3261BranchMagicCookie + "sgw"

func newBranch() string {
	var b [8]byte
	rand.Read(b[:])
	return branchPrefix + hex.EncodeToString(b[:])
}

// newTag returns a From/To tag (RFC 3261 §19.3).
func newTag() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// missingHeader returns the name of the first header RFC 3261 §8.1.1
// requires that req lacks or that is inconsistent, or "".
func missingHeader(req *sip.Request) string {
	switch {
	case req.Via() == nil:
		return "Via"
	case req.From() == nil:
		return "From"
	case req.To() == nil:
		return "To"
	case req.CallID() == nil:
		return "Call-ID"
	case req.CSeq() == nil:
		return "CSeq"
	}
	return ""
}

// validate performs the RFC 3261 §16.3 checks a proxy needs and returns a
// 400 reason phrase, or "".
func validate(req *sip.Request) string {
	if h := missingHeader(req); h != "" {
		return "Bad Request: missing " + h
	}
	for _, h := range req.GetHeaders("Via") {
		if v, ok := h.(*sip.ViaHeader); !ok || !validVia(v) {
			return "Bad Request: malformed Via"
		}
	}
	if req.SipVersion != "SIP/2.0" {
		return "Bad Request: unsupported SIP version"
	}
	if !roundTrips(req) {
		return "Bad Request: malformed header"
	}
	if req.CSeq().MethodName != req.Method {
		return "Bad Request: CSeq method does not match the request method"
	}
	if req.Recipient.Scheme != "sip" && req.Recipient.Scheme != "sips" && !strings.HasPrefix(req.Recipient.Scheme, "tel") {
		return "Bad Request: Request-URI scheme not supported"
	}
	if req.Recipient.Host == "" && req.Recipient.Scheme != "tel" {
		return "Bad Request: Request-URI has no host"
	}
	if cl := req.ContentLength(); cl != nil && int(*cl) != len(req.Body()) {
		return "Bad Request: Content-Length does not match the body"
	}
	return ""
}

// roundTrips reports whether m, serialized, parses again. sipgo's parser
// accepts some values (URIs, Vias) that it then writes in a form no parser
// accepts; such a message is treated as malformed so that the edge never
// forwards or answers with something its peers would choke on.
func roundTrips(m sip.Message) bool {
	_, err := sip.ParseMessage([]byte(m.String()))
	return err == nil
}

// answerable reports whether a response to req can be built and matched
// by its sender (RFC 3261 §17.1.3: top Via branch and CSeq method): SIP/2.0,
// well-formed Vias and a CSeq. Requests that are not
// answerable are dropped.
func answerable(req *sip.Request) bool {
	if req.SipVersion != "SIP/2.0" || req.Via() == nil || req.CSeq() == nil {
		return false
	}
	for _, h := range req.GetHeaders("Via") {
		if v, ok := h.(*sip.ViaHeader); !ok || !validVia(v) {
			return false
		}
	}
	return true
}

// validVia checks what sipgo's Via parser lets through but a peer would
// refuse (RFC 3261 §20.42): protocol SIP/2.0, a token transport, a host
// without white space.
func validVia(v *sip.ViaHeader) bool {
	if v.ProtocolName != "SIP" || v.ProtocolVersion != "2.0" || v.Transport == "" || v.Host == "" {
		return false
	}
	for i := 0; i < len(v.Transport); i++ {
		c := v.Transport[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	for i := 0; i < len(v.Host); i++ {
		c := v.Host[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._:[]", c) >= 0) {
			return false
		}
	}
	return v.Port >= 0 && v.Port <= 65535
}

// reasonPhrase makes s a safe reason phrase (RFC 3261 §25.1).
func reasonPhrase(s string) string { return sdp.Sanitize(s) }

// newResponse builds a response to req as a UAS or the proxy itself would
// (RFC 3261 §8.2.6.2): Vias, From, To (with a tag unless 100), Call-ID and
// CSeq copied; Record-Route copied on 1xx/2xx to dialog-forming requests
// (§12.1.1). Content-Length is added when it is sent (ensureContentLength),
// after any headers the caller appends.
func newResponse(req *sip.Request, code int, reason string) *sip.Response {
	res := sip.NewResponse(code, reason)
	res.SipVersion = req.SipVersion
	for _, h := range req.GetHeaders("Via") {
		res.AppendHeader(sip.HeaderClone(h))
	}
	if code > 100 && code < 300 && dialogForming(req.Method) {
		for _, h := range req.GetHeaders("Record-Route") {
			res.AppendHeader(sip.HeaderClone(h))
		}
	}
	if h := req.From(); h != nil {
		res.AppendHeader(sip.HeaderClone(h))
	}
	if h := req.To(); h != nil {
		to := sip.HeaderClone(h).(*sip.ToHeader)
		if code != 100 && !to.Params.Has("tag") {
			if to.Params == nil {
				to.Params = sip.NewParams()
			}
			to.Params.Add("tag", newTag())
		}
		res.AppendHeader(to)
	}
	if h := req.CallID(); h != nil {
		res.AppendHeader(sip.HeaderClone(h))
	}
	if h := req.CSeq(); h != nil {
		res.AppendHeader(sip.HeaderClone(h))
	}
	if code == 100 {
		if h := req.GetHeader("Timestamp"); h != nil {
			res.AppendHeader(sip.HeaderClone(h))
		}
	}
	res.AppendHeader(sip.NewHeader("Server", "simplegw"))
	return res
}

// setBody sets the message body with its Content-Type.
func setBody(m sip.Message, contentType string, body []byte) {
	m.AppendHeader(sip.NewHeader("Content-Type", contentType))
	m.SetBody(body)
}

// dialogForming reports whether method creates a dialog that later requests
// are routed along (RFC 3261 §12, RFC 6665 §4.1, RFC 3515).
func dialogForming(m sip.RequestMethod) bool {
	switch m {
	case sip.INVITE, sip.SUBSCRIBE, sip.REFER, sip.NOTIFY:
		return true
	}
	return false
}

// headerValue returns the value of the first header called name, or "".
func headerValue(m sip.Message, name string) string {
	if hs := m.GetHeaders(name); len(hs) > 0 {
		return strings.TrimSpace(hs[0].Value())
	}
	return ""
}

// contentType returns the media type of m's body, lower-cased, without
// parameters.
func contentType(m sip.Message) string {
	v := headerValue(m, "Content-Type")
	if v == "" {
		v = headerValue(m, "c")
	}
	mt, _, _ := strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// expiresHeader returns the Expires header value, or -1 when absent or not a
// number.
func expiresHeader(m sip.Message) int {
	v := headerValue(m, "Expires")
	if v == "" {
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// eventPackage returns the event package of an Event header (RFC 6665
// §8.2.1), lower-cased, and its id parameter.
func eventPackage(m sip.Message) (pkg, id string) {
	v := headerValue(m, "Event")
	if v == "" {
		v = headerValue(m, "o")
	}
	parts := strings.Split(v, ";")
	pkg = strings.ToLower(strings.TrimSpace(parts[0]))
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "id") {
			id = val
		}
	}
	return pkg, id
}

// aorOf returns the canonical address-of-record "sip:user@host" of u
// (RFC 3261 §10.3 step 5: scheme, user and host only; host lower-cased).
func aorOf(u *sip.Uri) string {
	return "sip:" + u.User + "@" + strings.ToLower(strings.Trim(u.Host, "[]"))
}

// serverTxKey identifies a server transaction (RFC 3261 §17.2.3): the top
// Via branch and sent-by and the method, ACK counting as INVITE. Requests
// without the magic cookie fall back to Call-ID, From tag, CSeq and the Via.
func serverTxKey(req *sip.Request, method sip.RequestMethod) string {
	if method == sip.ACK {
		method = sip.INVITE
	}
	via := req.Via()
	branch, _ := via.Params.Get("branch")
	port := via.Port
	if port == 0 {
		port = sip.DefaultPort(via.Transport)
	}
	sentBy := strings.ToLower(via.Host) + ":" + strconv.Itoa(port)
	if strings.HasPrefix(branch, sip.RFC3261BranchMagicCookie) && len(branch) > len(sip.RFC3261BranchMagicCookie) {
		return branch + "|" + sentBy + "|" + string(method)
	}
	fromTag, _ := req.From().Params.Get("tag")
	return "2543|" + req.CallID().Value() + "|" + fromTag + "|" +
		strconv.Itoa(int(req.CSeq().SeqNo)) + "|" + sentBy + "|" + string(method)
}

// stampVia adds received and rport to the top Via of a request from f
// (RFC 3261 §18.2.1, RFC 3581 §4). WebSocket peers are left alone (RFC 7118
// §5.3): their address says nothing useful and responses follow the
// connection.
func stampVia(f *flow, req *sip.Request) {
	if f.isWS() || f.remote == "" {
		return
	}
	via := req.Via()
	host, port, err := net.SplitHostPort(f.remote)
	if err != nil {
		return
	}
	if via.Params == nil {
		via.Params = sip.NewParams()
	}
	if strings.Trim(via.Host, "[]") != host {
		via.Params.Add("received", host)
	}
	if v, ok := via.Params.Get("rport"); ok && v == "" {
		via.Params.Add("rport", port)
	}
}

// popVia removes the top Via of a response and reports whether it was one
// of ours (RFC 3261 §16.7 step 3).
func popVia(res *sip.Response) bool {
	via := res.Via()
	if via == nil {
		return false
	}
	branch, _ := via.Params.Get("branch")
	if !strings.HasPrefix(branch, branchPrefix) {
		return false
	}
	res.RemoveHeader("Via")
	return res.Via() != nil
}

// ensureContentLength adds Content-Length when a message arrived without one
// (allowed on WebSocket, RFC 7118 §5) and is forwarded on a stream.
func ensureContentLength(m sip.Message) {
	if m.ContentLength() == nil {
		m.SetBody(m.Body())
	}
}

// allowMethods is the Allow value of the edge's own responses.
const allowMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, REGISTER, SUBSCRIBE, NOTIFY, PUBLISH, UPDATE, INFO, REFER, PRACK"
