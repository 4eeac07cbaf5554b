package relay

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/simplegw/simplegw/bridge/auth"
	"github.com/simplegw/simplegw/bridge/msrp"
)

// forward is the routing decision for the request whose parts are arriving on a connection:
// made on its first part, applied to every part, closed on its final part.
type forward struct {
	in     *msrp.Message
	dest   *conn        // nil: the request was answered or dropped; its parts are discarded
	out    msrp.Message // template of what goes to dest
	rng    msrp.ByteRange
	self   msrp.URI // the relay URI the request addressed (From-Path of our answers)
	sent   bool     // at least one piece went out
	failed int      // status of a failure met while forwarding, 0 if none
	reason string
	paths  []msrp.URI // storage for out.FromPath, kept from request to request
}

// txn is a request the relay forwarded and whose response it awaits (RFC 4976 §6.4.3).
type txn struct {
	origin  *conn
	method  string
	origTID string // the sender's transaction id, for responses we pass back
	fr      string // Failure-Report of a SEND
	// For REPORTs about a SEND (RFC 4975 §7.1.2): where they go and what they describe.
	reportTo   []msrp.URI
	reportFrom msrp.URI
	messageID  string
	rng        *msrp.ByteRange
	rngv       msrp.ByteRange // what rng points to, when set here
	deadline   time.Time      // zero until the request is written; guarded by the conn's pmu
}

// fail ends a transaction that got no usable response: a SEND with Failure-Report "yes"
// earns its sender a REPORT (RFC 4976 §6.4.1); a non-SEND request gets an error response
// back along its path; anything else ends silently.
func (t *txn) fail(code int, comment string) {
	switch {
	case t.method == msrp.MethodSEND:
		if t.fr == msrp.ReportYes || (t.fr == msrp.ReportPartial && code != 408) {
			t.report(code, comment, nil)
		}
	case t.method != msrp.MethodREPORT:
		resp := &msrp.Message{TransactionID: t.origTID, Code: code, Comment: comment,
			ToPath: t.reportTo, FromPath: []msrp.URI{t.reportFrom}, Flag: msrp.FlagEnd}
		t.origin.write(resp, nil, msrp.FlagEnd)
	}
}

// report sends a failure REPORT for the chunk t described to its sender (RFC 4975 §7.1.2,
// RFC 4976 §6.4.1): To-Path is the SEND's From-Path as the relay received it, From-Path the
// relay URI it was addressed to. A reader passes its batch (see conn.send); others nil.
func (t *txn) report(code int, comment string, b *batch) {
	if t.messageID == "" || t.origin.isClosed() {
		return
	}
	rep := &msrp.Message{
		TransactionID: msrp.NewIdent(),
		Method:        msrp.MethodREPORT,
		ToPath:        t.reportTo,
		FromPath:      []msrp.URI{t.reportFrom},
		MessageID:     t.messageID,
		ByteRange:     t.rng,
		Status:        &msrp.Status{Code: code, Comment: comment},
		Flag:          msrp.FlagEnd,
	}
	t.origin.send(rep, nil, msrp.FlagEnd, b)
}

// handlePart processes one part read from c.
func (c *conn) handlePart(p msrp.Part) {
	m := p.Message
	if !m.IsRequest() {
		if p.Final {
			c.handleResponse(m)
		}
		return
	}
	if p.Offset == 0 || c.cur == nil {
		c.cur = c.route(m)
	}
	f := c.cur
	if f.dest != nil && f.failed == 0 {
		c.forwardPiece(f, p)
	}
	if p.Final {
		c.finish(f)
		c.cur = nil
	}
}

var dropped = &forward{}

// route decides where the request m goes (RFC 4976 §6.2, §6.4). Requests that end at the
// relay (AUTH) or cannot be routed are answered here and return a forward with no dest.
func (c *conn) route(m *msrp.Message) *forward {
	r := c.r
	if m.Method == msrp.MethodAUTH && len(m.ToPath) == 1 {
		c.handleAuth(m)
		return dropped
	}
	b := r.lookup(m.ToPath[0])
	if b == nil {
		// RFC 4976 §6.3: a request for a URI that is not valid is discarded; it is answered
		// 481 so the sender learns the session is gone.
		c.reject(m, m.ToPath[0], 481, "relay URI unknown or expired")
		return dropped
	}
	// The reader handles one request at a time: its forward (and the From-Path buffer in
	// it) is reused from request to request.
	f := &c.fwd
	paths := f.paths[:0]
	*f = forward{in: m, self: b.uri, paths: paths}
	toPath := m.ToPath[1:]
	var handoff *binding // the next hop's client, when it is one of ours
	if len(toPath) == 0 {
		c.reject(m, b.uri, 400, "To-Path ends at the relay")
		return dropped
	}
	if b.owner == c {
		// From the client that owns this URI, outward to the next hop.
		if b2 := r.lookup(toPath[0]); b2 != nil {
			// The next hop is another client of this relay (RFC 7977 §8.3): hand it over
			// without a socket, moving both relay URIs to From-Path.
			toPath = toPath[1:]
			handoff = b2
			if len(toPath) == 0 {
				c.reject(m, b.uri, 400, "To-Path ends at the relay")
				return dropped
			}
			f.dest = b2.owner
		} else {
			dest, err := r.connFor(toPath[0], c.batch.flush)
			if err != nil {
				r.log.Info("msrp relay: next hop unreachable", "uri", toPath[0].String(), "err", err)
				c.reject(m, b.uri, 481, "cannot reach next hop")
				return dropped
			}
			f.dest = dest
		}
	} else {
		// From a peer, inward to the client that owns this URI (RFC 4976 §6.4 case 1).
		f.dest = b.owner
		if c.ws == nil && c != b.owner {
			r.notePeer(c, m.FromPath[0])
		}
	}
	// From-Path: [the next client's relay URI,] this relay URI, the sender's From-Path.
	fromPath := paths
	if handoff != nil {
		fromPath = append(fromPath, handoff.uri)
	}
	fromPath = append(fromPath, b.uri)
	fromPath = append(fromPath, m.FromPath...)
	f.paths = fromPath[:0]
	f.out = msrp.Message{
		Method:        m.Method,
		ToPath:        toPath,
		FromPath:      fromPath,
		MessageID:     m.MessageID,
		ByteRange:     m.ByteRange,
		SuccessReport: m.SuccessReport,
		FailureReport: m.FailureReport,
		Status:        m.Status,
		ContentType:   m.ContentType,
		Fields:        m.Fields,
		HasBody:       m.HasBody,
	}
	return f
}

// forwardPiece sends one piece of the current request to the next hop, as a chunk of its own
// with a new transaction id (RFC 4976 §6.4) and, when the piece is part of a larger chunk, its
// own Byte-Range and a "+" flag (RFC 4976 §6.4.1, RFC 7977 §5.1).
func (c *conn) forwardPiece(f *forward, p msrp.Part) {
	m := f.in
	out := &f.out
	flag := m.Flag
	if !(p.Offset == 0 && p.Final) {
		start := int64(1)
		total := msrp.Unknown
		if m.ByteRange != nil {
			start, total = m.ByteRange.Start, m.ByteRange.Total
		}
		start += p.Offset
		f.rng = msrp.ByteRange{Start: start, End: start + int64(len(p.Body)) - 1, Total: total}
		out.ByteRange = &f.rng
		if !p.Final {
			flag = msrp.FlagContinue
		}
	}
	out.TransactionID = msrp.NewTransactionID(p.Body)
	var t *txn
	if m.Method != msrp.MethodREPORT && !(m.Method == msrp.MethodSEND && m.FailureReport == msrp.ReportNo) {
		t = &txn{origin: c, method: m.Method, origTID: m.TransactionID, fr: m.FailureReportOrDefault(),
			reportTo: m.FromPath, reportFrom: f.self, messageID: m.MessageID}
		if m.Method == msrp.MethodSEND {
			// A failure REPORT's Byte-Range covers the data actually carried, its
			// range-end computed from it (RFC 4975 §7.1.2).
			rng := msrp.ByteRange{Start: 1 + p.Offset, Total: msrp.Unknown}
			if m.ByteRange != nil {
				rng.Start, rng.Total = m.ByteRange.Start+p.Offset, m.ByteRange.Total
			}
			rng.End = rng.Start + int64(len(p.Body)) - 1
			t.rngv = rng
			t.rng = &t.rngv
		}
		if !f.dest.addPending(out.TransactionID, t) {
			f.failed, f.reason = 408, "connection to the next hop was lost"
			return
		}
	}
	if err := f.dest.send(out, p.Body, flag, &c.batch); err != nil {
		// The sender hears of it in the answer to this request (and, if the connection's
		// close got to the transaction first, in a REPORT as well).
		if t != nil {
			f.dest.takePending(out.TransactionID)
		}
		f.failed, f.reason = 408, "connection to the next hop was lost"
		return
	}
	f.sent = true
	c.ok = true
	if t != nil {
		f.dest.arm(out.TransactionID, t)
	}
}

// finish answers the previous hop once the whole request has arrived: for a SEND with
// Failure-Report "yes", 200 at once (RFC 4976 §6.4.1 — delivery is the relay's job from here);
// for any request that could not be forwarded, the error.
func (c *conn) finish(f *forward) {
	m := f.in
	if m == nil {
		return
	}
	if f.failed != 0 {
		c.reject(m, f.self, f.failed, f.reason)
		return
	}
	if f.dest != nil && m.Method == msrp.MethodSEND && m.FailureReportOrDefault() == msrp.ReportYes {
		c.send(msrp.NewResponse(m, 200, "OK", f.self), nil, msrp.FlagEnd, &c.batch)
	}
}

// abortForward runs when c ends with a chunk half forwarded: the next hop gets an empty
// final piece flagged "#" (RFC 4975 §7.1: the sender abandoned the message) rather than
// waiting forever for the rest.
func (c *conn) abortForward() {
	f := c.cur
	c.cur = nil
	if f == nil || f.dest == nil || !f.sent || f.failed != 0 || f.in.Method != msrp.MethodSEND {
		return
	}
	next := f.rng.End + 1
	f.rng = msrp.ByteRange{Start: next, End: next - 1, Total: f.rng.Total}
	f.out.ByteRange = &f.rng
	f.out.TransactionID = msrp.NewIdent()
	f.dest.write(&f.out, nil, msrp.FlagAbort)
}

// reject answers a request the relay will not forward, when the request wants an answer:
// never for REPORT (RFC 4975 §7.1.2), not for a SEND with Failure-Report "no" (RFC 4975 §7.2).
func (c *conn) reject(m *msrp.Message, self msrp.URI, code int, comment string) {
	if m.Method == msrp.MethodREPORT || m.FailureReport == msrp.ReportNo {
		return
	}
	c.send(msrp.NewResponse(m, code, comment, self), nil, msrp.FlagEnd, &c.batch)
}

// rejectMalformed answers a message the codec could not accept (400, or 413 for a non-SEND
// body over 10240 bytes) when it is a request whose paths could be read; otherwise it is
// dropped, as nothing can address an answer (RFC 4975 §7.2).
func (c *conn) rejectMalformed(pe *msrp.ParseError) {
	c.r.log.Debug("msrp relay: malformed message", "conn", c.String(), "err", pe)
	if pe.Method == "" || pe.ToPath == nil || pe.FromPath == nil {
		return
	}
	req := &msrp.Message{TransactionID: pe.TransactionID, Method: pe.Method, FromPath: pe.FromPath, FailureReport: pe.FailureReport}
	c.reject(req, pe.ToPath[0], pe.Code, pe.Reason)
}

// handleResponse routes a response from a next hop (RFC 4976 §6.4.3).
func (c *conn) handleResponse(m *msrp.Message) {
	t := c.takePending(m.TransactionID)
	if t == nil {
		return // no such transaction: dropped
	}
	if t.method == msrp.MethodSEND {
		if m.Code != 200 && t.fr != msrp.ReportNo {
			t.report(m.Code, m.Comment, &c.batch)
		}
		return
	}
	// Pass the response back: move the relay's URIs from To-Path to From-Path.
	toPath := m.ToPath
	fromPath := m.FromPath
	for len(toPath) > 0 && c.r.lookup(toPath[0]) != nil {
		fromPath = append([]msrp.URI{toPath[0]}, fromPath...)
		toPath = toPath[1:]
	}
	if len(toPath) == 0 || t.origin.isClosed() {
		return
	}
	resp := &msrp.Message{TransactionID: t.origTID, Code: m.Code, Comment: m.Comment,
		ToPath: toPath, FromPath: fromPath, Fields: m.Fields, Flag: msrp.FlagEnd}
	t.origin.send(resp, nil, msrp.FlagEnd, &c.batch)
}

// handleAuth answers an AUTH addressed to the relay (RFC 4976 §5.1, §6.3, §9.1).
func (c *conn) handleAuth(m *msrp.Message) {
	r := c.r
	self := m.ToPath[0]
	respond := func(code int, comment string, fields ...msrp.Field) {
		resp := msrp.NewResponse(m, code, comment, self)
		resp.Fields = fields
		c.send(resp, nil, msrp.FlagEnd, &c.batch)
	}
	authz, _ := m.Get("Authorization")
	digestURI := m.ToPath[len(m.ToPath)-1].String()
	cred, err := r.cfg.Digest.Verify(authz, msrp.MethodAUTH, digestURI)
	if err == nil && cred.URI != digestURI {
		// RFC 4976 §9.1: H(A2) is computed over the rightmost To-Path URI; credentials
		// made for another URI (another relay, another request) do not count here.
		err = fmt.Errorf("%w: digest uri %q is not the To-Path %q", auth.ErrForbidden, cred.URI, digestURI)
	}
	switch {
	case errors.Is(err, auth.ErrNoCredentials):
		respond(401, "", msrp.Field{Name: "WWW-Authenticate", Value: r.cfg.Digest.Challenge(false)})
		return
	case errors.Is(err, auth.ErrStaleNonce):
		respond(401, "", msrp.Field{Name: "WWW-Authenticate", Value: r.cfg.Digest.Challenge(true)})
		return
	case errors.Is(err, auth.ErrMalformed):
		respond(400, "bad Authorization header")
		return
	case err != nil:
		c.authFailures++
		respond(403, "")
		if c.authFailures >= maxAuthFailures {
			// RFC 4976 §6.3: repeated failures end the connection (after the 403).
			c.batch.flush()
			c.close(&closeError{code: 4403, msg: "too many failed AUTH requests"})
		}
		return
	}
	expires := r.cfg.DefaultExpires
	if v, present := m.Get("Expires"); present {
		n, ok := m.Expires()
		if !ok {
			respond(400, "bad Expires header")
			return
		}
		d := time.Duration(n) * time.Second
		switch {
		case d < r.cfg.MinExpires:
			respond(423, "", msrp.Field{Name: "Min-Expires", Value: strconv.Itoa(int(r.cfg.MinExpires / time.Second))})
			return
		case d > r.cfg.MaxExpires || len(v) > 9:
			respond(423, "", msrp.Field{Name: "Max-Expires", Value: strconv.Itoa(int(r.cfg.MaxExpires / time.Second))})
			return
		}
		expires = d
	}
	b, err := r.newBinding(c, expires)
	if err != nil {
		r.log.Warn("msrp relay: AUTH refused", "conn", c.String(), "err", err)
		respond(403, err.Error())
		return
	}
	c.ok = true
	r.log.Debug("msrp relay: AUTH ok", "user", cred.Username, "uri", b.uri.String())
	respond(200, "OK",
		msrp.Field{Name: "Use-Path", Value: b.uri.String()},
		msrp.Field{Name: "Expires", Value: strconv.Itoa(int(expires / time.Second))},
		msrp.Field{Name: "Authentication-Info", Value: r.cfg.Digest.AuthenticationInfo(cred)},
	)
}
