package sipua

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// ErrCanceled is returned by [UA.Invite] when its context ended before the call was
// answered and the INVITE was canceled (RFC 3261 §9.1), and by [IncomingCall.Answer]
// when the caller canceled first (§9.2).
var ErrCanceled = errors.New("sipua: call canceled")

// EndReason says why a call ended.
type EndReason string

// Reasons a [Call] ends.
const (
	EndRemoteBye EndReason = "bye"        // the peer sent BYE (RFC 3261 §15.1.2)
	EndLocalBye  EndReason = "local bye"  // Bye was called
	EndNoAck     EndReason = "no ACK"     // the 2xx got no ACK within 64*T1 (§13.3.1.4)
	EndClosed    EndReason = "ua closed"  // the UA was closed or lost its connection
	EndForked    EndReason = "extra fork" // a second 2xx to one INVITE (§13.2.2.4)
)

// Call is an established INVITE dialog (RFC 3261 §12) and its offer/answer.
//
// Concurrency: the fields after mu are guarded by it; the others are set before the
// Call is shared and not changed, except remoteTarget, guarded by mu as well.
type Call struct {
	ua        *UA
	key       string
	callID    string
	localTag  string
	remoteTag string
	localURI  sip.Uri // From of our requests
	remoteURI sip.Uri // To of our requests
	routeSet  []sip.Uri
	creds     []sip.Header // the INVITE's credentials, repeated in the ACK of a 2xx
	localSDP  []byte
	remoteSDP []byte
	inviteSeq uint32 // CSeq of the INVITE that created the dialog

	mu           sync.Mutex
	remoteTarget sip.Uri
	localSeq     uint32
	remoteSeq    uint32
	acks         map[uint32]chan struct{} // 2xx awaiting their ACK, by CSeq
	reason       EndReason

	confirmed   chan struct{}
	confirmOnce sync.Once
	done        chan struct{}
	endOnce     sync.Once
}

func dialogKey(callID, localTag, remoteTag string) string {
	return callID + "|" + localTag + "|" + remoteTag
}

// ID returns the Call-ID.
func (c *Call) ID() string { return c.callID }

// Remote returns the peer's URI: the From of an incoming call, the To of an outgoing
// one.
func (c *Call) Remote() string { return c.remoteURI.String() }

// LocalSDP returns the session description this UA sent (offer or answer).
func (c *Call) LocalSDP() []byte { return c.localSDP }

// RemoteSDP returns the session description the peer sent.
func (c *Call) RemoteSDP() []byte { return c.remoteSDP }

// Confirmed is closed when the dialog is confirmed: at once for an outgoing call (the
// ACK is sent), on the ACK of the 2xx for an incoming one.
func (c *Call) Confirmed() <-chan struct{} { return c.confirmed }

// Done is closed when the call has ended; Reason says why.
func (c *Call) Done() <-chan struct{} { return c.done }

// Reason returns why the call ended, or "" while it lasts.
func (c *Call) Reason() EndReason {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

func (c *Call) end(r EndReason) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		c.reason = r
		c.mu.Unlock()
		c.ua.mu.Lock()
		if c.ua.dialogs[c.key] == c {
			delete(c.ua.dialogs, c.key)
		}
		c.ua.mu.Unlock()
		close(c.done)
	})
}

// Bye ends the call (RFC 3261 §15.1.1): a BYE within the dialog, answered or not. The
// call counts as ended at once; the error says how the BYE fared (a 481 counts as
// success: the peer had ended it already).
func (c *Call) Bye(ctx context.Context) error {
	return c.bye(ctx, EndLocalBye)
}

func (c *Call) bye(ctx context.Context, reason EndReason) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	c.end(reason)
	req := c.newRequest(sip.BYE, c.nextSeq())
	res, err := c.ua.do(ctx, req, c.nextSeq)
	if err != nil {
		return err
	}
	if !res.IsSuccess() && res.StatusCode != 481 {
		return statusError(res)
	}
	return nil
}

func (c *Call) nextSeq() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.localSeq++
	return c.localSeq
}

// newRequest builds a request within the dialog (RFC 3261 §12.2.1.1): To, From and tags
// from the dialog, the remote target as Request-URI and the route set as Route, or for
// a strict router first in the set, that router as Request-URI and the remote target
// last in Route.
func (c *Call) newRequest(method sip.RequestMethod, seq uint32) *sip.Request {
	c.mu.Lock()
	target := *c.remoteTarget.Clone()
	c.mu.Unlock()
	ruri, routes := target, c.routeSet
	if len(routes) > 0 && !routes[0].UriParams.Has("lr") {
		ruri = *routes[0].Clone()
		ruri.Headers = nil
		routes = append(slices.Clone(routes[1:]), target)
	}
	from := sip.FromHeader{Address: *c.localURI.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", c.localTag)
	to := sip.ToHeader{Address: *c.remoteURI.Clone(), Params: sip.NewParams()}
	if c.remoteTag != "" {
		to.Params.Add("tag", c.remoteTag)
	}
	req := c.ua.newRequest(method, ruri, from, to, c.callID, seq)
	for _, r := range routes {
		req.AppendHeader(&sip.RouteHeader{Address: *r.Clone()})
	}
	return req
}

// acked handles an ACK within the dialog: it stops the retransmission of the 2xx it
// acknowledges and confirms the dialog.
func (c *Call) acked(req *sip.Request) {
	seq := req.CSeq().SeqNo
	c.mu.Lock()
	ch := c.acks[seq]
	delete(c.acks, seq)
	c.mu.Unlock()
	if ch != nil {
		close(ch)
	}
	if seq == c.inviteSeq {
		c.confirmOnce.Do(func() { close(c.confirmed) })
	}
}

// sendAnswer sends a 2xx to an INVITE through tx and retransmits it until its ACK
// (RFC 3261 §13.3.1.4: from T1 doubling to T2, on every transport). Without an ACK
// after 64*T1 the call is ended with BYE.
func (c *Call) sendAnswer(tx *serverTx, res *sip.Response) error {
	seq := tx.req.CSeq().SeqNo
	ch := make(chan struct{})
	c.mu.Lock()
	if c.acks == nil {
		c.acks = map[uint32]chan struct{}{}
	}
	c.acks[seq] = ch
	c.mu.Unlock()
	if err := tx.respond(res); errors.Is(err, errFinalSent) {
		c.mu.Lock()
		delete(c.acks, seq)
		c.mu.Unlock()
		return err
	}
	go c.retransmitAnswer([]byte(res.String()), tx.src, ch)
	return nil
}

func (c *Call) retransmitAnswer(b []byte, dst net.Addr, acked chan struct{}) {
	ua := c.ua
	interval := ua.t1
	t := time.NewTimer(interval)
	defer t.Stop()
	giveUp := time.NewTimer(64 * ua.t1)
	defer giveUp.Stop()
	for {
		select {
		case <-acked:
			return
		case <-c.done:
			return
		case <-ua.done:
			return
		case <-giveUp.C:
			ua.log.Info("no ACK for the 2xx: ending the call", "call-id", c.callID)
			ctx, cancel := context.WithTimeout(context.Background(), 64*ua.t1)
			c.bye(ctx, EndNoAck)
			cancel()
			return
		case <-t.C:
			ua.tp.send(b, dst)
			interval = min(2*interval, ua.t2)
			t.Reset(interval)
		}
	}
}

// inDialog serves a request within a dialog (RFC 3261 §12.2.2).
func (ua *UA) inDialog(tx *serverTx) {
	req := tx.req
	ua.mu.Lock()
	c := ua.dialogs[dialogKey(req.CallID().Value(), toTag(req), fromTag(req))]
	ua.mu.Unlock()
	if c == nil {
		tx.respond(ua.newResponse(req, 481, "Call/Transaction Does Not Exist", ""))
		return
	}
	seq := req.CSeq().SeqNo
	c.mu.Lock()
	if c.remoteSeq != 0 && seq <= c.remoteSeq {
		c.mu.Unlock()
		tx.respond(ua.newResponse(req, 500, "Server Internal Error: CSeq out of order", ""))
		return
	}
	c.remoteSeq = seq
	if (req.IsInvite() || req.Method == sip.UPDATE) && req.Contact() != nil {
		c.remoteTarget = *req.Contact().Address.Clone() // a target refresh
	}
	c.mu.Unlock()

	switch req.Method {
	case sip.BYE:
		tx.respond(ua.newResponse(req, 200, "OK", ""))
		c.end(EndRemoteBye)
	case sip.INVITE, sip.UPDATE:
		// A session refresh: the session stays as negotiated, so the answer is the same
		// description (RFC 4975 §8.4 lets the answerer keep its path).
		res := ua.newResponse(req, 200, "OK", "")
		res.AppendHeader(ua.contactHeader())
		if len(req.Body()) > 0 {
			res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
			res.SetBody(c.localSDP)
		}
		if req.IsInvite() {
			c.sendAnswer(tx, res)
		} else {
			tx.respond(res)
		}
	case sip.OPTIONS:
		res := ua.newResponse(req, 200, "OK", "")
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		tx.respond(res)
	default:
		res := ua.newResponse(req, 405, "Method Not Allowed", "")
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		tx.respond(res)
	}
}

func (ua *UA) addDialog(c *Call) error {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	if ua.closed {
		return ErrClosed
	}
	ua.dialogs[c.key] = c
	return nil
}

// IncomingCall is a new INVITE awaiting the application's answer.
//
// Concurrency: its methods are safe for concurrent use; the first final response wins.
type IncomingCall struct {
	ua       *UA
	tx       *serverTx
	req      *sip.Request
	tag      string
	canceled chan struct{}
}

// onInvite starts an incoming call: 100 Trying at once (RFC 3261 §17.2.1), then the
// application.
func (ua *UA) onInvite(tx *serverTx) {
	ic := &IncomingCall{ua: ua, tx: tx, req: tx.req, tag: newTag(), canceled: make(chan struct{})}
	tx.mu.Lock()
	tx.toTag = ic.tag
	tx.onCancel = func() { close(ic.canceled) }
	tx.mu.Unlock()
	tx.respond(ua.newResponse(tx.req, 100, "Trying", ""))
	if ua.cfg.OnInvite == nil {
		tx.respond(ua.newResponse(tx.req, 480, "Temporarily Unavailable", ic.tag))
		return
	}
	go ua.cfg.OnInvite(ic)
}

// Request returns the INVITE.
func (ic *IncomingCall) Request() *sip.Request { return ic.req }

// From returns the caller's URI (the From of the INVITE).
func (ic *IncomingCall) From() string { return ic.req.From().Address.String() }

// To returns the URI called (the To of the INVITE).
func (ic *IncomingCall) To() string { return ic.req.To().Address.String() }

// ContentType returns the media type of the INVITE's body, without parameters, in
// lower case ("application/sdp").
func (ic *IncomingCall) ContentType() string {
	h := ic.req.ContentType()
	if h == nil {
		return ""
	}
	mt, _, _ := strings.Cut(h.Value(), ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// Offer returns the INVITE's body.
func (ic *IncomingCall) Offer() []byte { return ic.req.Body() }

// Canceled is closed when the caller canceled the INVITE (RFC 3261 §9.2); the UA has
// answered it with 487 then.
func (ic *IncomingCall) Canceled() <-chan struct{} { return ic.canceled }

// Ring sends 180 Ringing (RFC 3261 §13.3.1.1).
func (ic *IncomingCall) Ring() error {
	res := ic.ua.newResponse(ic.req, 180, "Ringing", ic.tag)
	res.AppendHeader(ic.ua.contactHeader())
	return ic.respond(res)
}

// Reject answers the INVITE with a final status of 300 to 699 (RFC 3261 §13.3.1.3);
// reason is the reason phrase ("" for the standard one).
func (ic *IncomingCall) Reject(code int, reason string) error {
	if code < 300 || code > 699 {
		return fmt.Errorf("sipua: reject with %d: the status must be 300 to 699", code)
	}
	if reason == "" {
		reason = reasonPhrases[code]
		if reason == "" {
			reason = "Rejected"
		}
	}
	return ic.respond(ic.ua.newResponse(ic.req, code, sanitizeReason(reason), ic.tag))
}

func (ic *IncomingCall) respond(res *sip.Response) error {
	err := ic.tx.respond(res)
	if errors.Is(err, errFinalSent) {
		select {
		case <-ic.canceled:
			return ErrCanceled
		default:
		}
	}
	return err
}

// Answer accepts the call with a 200 carrying body (an answer of contentType,
// "application/sdp" when empty), retransmitted until the ACK (RFC 3261 §13.3.1.4).
// The call is established at once; Confirmed is closed when the ACK arrives.
func (ic *IncomingCall) Answer(contentType string, body []byte) (*Call, error) {
	ua, req := ic.ua, ic.req
	if contentType == "" {
		contentType = "application/sdp"
	}
	c := &Call{ua: ua, callID: req.CallID().Value(), localTag: ic.tag, remoteTag: fromTag(req),
		localURI: *req.To().Address.Clone(), remoteURI: *req.From().Address.Clone(),
		localSDP: body, remoteSDP: req.Body(), inviteSeq: req.CSeq().SeqNo, remoteSeq: req.CSeq().SeqNo,
		confirmed: make(chan struct{}), done: make(chan struct{})}
	c.key = dialogKey(c.callID, c.localTag, c.remoteTag)
	if ct := req.Contact(); ct != nil {
		c.remoteTarget = *ct.Address.Clone()
	} else {
		c.remoteTarget = *req.From().Address.Clone()
	}
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			c.routeSet = append(c.routeSet, *rr.Address.Clone()) // §12.1.1: in order
		}
	}
	if err := ua.addDialog(c); err != nil {
		return nil, err
	}
	res := ua.newResponse(req, 200, "OK", ic.tag)
	res.AppendHeader(ua.contactHeader())
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	res.AppendHeader(sip.NewHeader("Content-Type", contentType))
	res.SetBody(body)
	if err := c.sendAnswer(ic.tx, res); err != nil {
		c.end(EndClosed)
		select {
		case <-ic.canceled:
			return nil, ErrCanceled
		default:
			return nil, err
		}
	}
	return c, nil
}

// InviteOptions tune [UA.Invite].
type InviteOptions struct {
	// ContentType of the offer (default "application/sdp").
	ContentType string
	// OnProvisional is called, in order, for each provisional response above 100.
	OnProvisional func(code int, reason string)
}

// ParseTarget completes a call target: "alice" becomes sip:alice@<the AOR's domain>,
// "alice@example.com" sip:alice@example.com; a sip: or sips: URI is taken as it is.
func (ua *UA) ParseTarget(s string) (sip.Uri, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(strings.ToLower(s), "sip:") && !strings.HasPrefix(strings.ToLower(s), "sips:") {
		if !strings.Contains(s, "@") {
			s += "@" + ua.aor.Host
			if ua.aor.Port != 0 {
				s += ":" + itoa(ua.aor.Port)
			}
		}
		s = "sip:" + s
	}
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil || u.Host == "" {
		return sip.Uri{}, fmt.Errorf("sipua: call target %q is not a SIP URI", s)
	}
	return u, nil
}

// Invite calls target (see ParseTarget) with an offer (RFC 3261 §13.2), answering
// 401/407 challenges, and returns the call once a 2xx arrives; its ACK is sent. A
// refusal is a *StatusError. When ctx ends first, ErrCanceled is returned and the INVITE
// is canceled: at once if a provisional response has come, else as soon as one does
// (RFC 3261 §9.1: never before); a 2xx that crosses the CANCEL is acknowledged and the
// call ended with BYE.
func (ua *UA) Invite(ctx context.Context, target string, offer []byte, opts InviteOptions) (*Call, error) {
	turi, err := ua.ParseTarget(target)
	if err != nil {
		return nil, err
	}
	ctype := opts.ContentType
	if ctype == "" {
		ctype = "application/sdp"
	}
	host, _ := ua.tp.local()
	from := sip.FromHeader{Address: *ua.aor.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", newTag())
	cseq := uint32(1)
	req := ua.newRequest(sip.INVITE, turi, from, sip.ToHeader{Address: *turi.Clone(), Params: sip.NewParams()},
		randHex(12)+"@"+host, cseq)
	req.AppendHeader(ua.contactHeader())
	req.AppendHeader(sip.NewHeader("Allow", allowed))
	req.AppendHeader(sip.NewHeader("Content-Type", ctype))
	req.SetBody(offer)
	tried := map[string]bool{}
	for round := 0; ; round++ {
		tx, err := ua.start(req)
		if err != nil {
			return nil, err
		}
		inv := req
		tx.mu.Lock()
		tx.onFork = func(res *sip.Response) { ua.endFork(inv, res) }
		tx.mu.Unlock()
		res, err := ua.waitInvite(ctx, tx, req, opts.OnProvisional)
		if err != nil {
			return nil, err
		}
		switch {
		case res.IsSuccess():
			return ua.confirm(tx, req, res)
		case (res.StatusCode == 401 || res.StatusCode == 407) && round < 3:
			cseq++
			retry := ua.renew(req, cseq)
			if ua.authorize(retry, res, tried) {
				req = retry
				continue
			}
		}
		return nil, statusError(res)
	}
}

// waitInvite waits for the final response to an INVITE, sending CANCEL when ctx ends.
func (ua *UA) waitInvite(ctx context.Context, tx *clientTx, inv *sip.Request, onProvisional func(int, string)) (*sip.Response, error) {
	ctxDone := ctx.Done()
	got1xx, cancelWanted, cancelSent := false, false, false
	cancel := func() {
		if !cancelSent {
			cancelSent = true
			if err := ua.sendCancel(inv); err != nil {
				ua.log.Debug("CANCEL not sent", "error", err)
			}
		}
	}
	for {
		res, err, ok := tx.next()
		if !ok {
			select {
			case <-tx.wake:
			case <-ua.done:
				return nil, ErrClosed
			case <-ctxDone:
				ctxDone, cancelWanted = nil, true
				if !got1xx {
					// No CANCEL before a provisional response (§9.1): give up at once and
					// let the transaction cancel the call if it ever rings.
					go ua.cancelWhenProceeding(tx, inv)
					return nil, fmt.Errorf("%w: %v", ErrCanceled, ctx.Err())
				}
				cancel()
			}
			continue
		}
		if err != nil {
			if cancelWanted {
				return nil, fmt.Errorf("%w: %v", ErrCanceled, ctx.Err())
			}
			return nil, err
		}
		if res.StatusCode < 200 {
			got1xx = true
			if cancelWanted {
				cancel()
			}
			if res.StatusCode > 100 && onProvisional != nil {
				onProvisional(res.StatusCode, res.Reason)
			}
			continue
		}
		if cancelWanted {
			if res.IsSuccess() {
				// The 2xx crossed the CANCEL: the call exists and is ended at once.
				if c, err := ua.confirm(tx, inv, res); err == nil {
					bctx, bcancel := context.WithTimeout(context.Background(), 64*ua.t1)
					c.Bye(bctx)
					bcancel()
				}
			}
			return nil, fmt.Errorf("%w: %v", ErrCanceled, ctx.Err())
		}
		return res, nil
	}
}

// cancelWhenProceeding finishes an INVITE abandoned before any provisional response:
// CANCEL once one arrives (RFC 3261 §9.1), and a 2xx that comes anyway is acknowledged
// and ended with BYE.
func (ua *UA) cancelWhenProceeding(tx *clientTx, inv *sip.Request) {
	canceled := false
	for {
		res, err, ok := tx.next()
		if !ok {
			select {
			case <-tx.wake:
			case <-ua.done:
				return
			}
			continue
		}
		if err != nil {
			return
		}
		if res.StatusCode < 200 {
			if !canceled {
				canceled = true
				ua.sendCancel(inv)
			}
			continue
		}
		if res.IsSuccess() {
			if c, err := ua.confirm(tx, inv, res); err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 64*ua.t1)
				c.Bye(ctx)
				cancel()
			}
		}
		return
	}
}

// sendCancel cancels inv (RFC 3261 §9.1): same Request-URI, Call-ID, To, From, CSeq
// number and Route, and inv's top Via, so that it matches the INVITE's transaction.
func (ua *UA) sendCancel(inv *sip.Request) error {
	req := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	req.AppendHeader(inv.Via().Clone())
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	for _, h := range inv.GetHeaders("Route") {
		req.AppendHeader(sip.HeaderClone(h))
	}
	req.AppendHeader(sip.HeaderClone(inv.From()))
	req.AppendHeader(sip.HeaderClone(inv.To()))
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	req.AppendHeader(sip.NewHeader("User-Agent", ua.cfg.UserAgent))
	req.SetBody(nil)
	_, err := ua.start(req) // its 200 is matched and dropped; nobody waits for it
	return err
}

// newUACCall builds the dialog a 2xx to inv creates (RFC 3261 §12.1.2): the route set is
// the Record-Route of the response reversed, the remote target its Contact.
func (ua *UA) newUACCall(inv *sip.Request, res *sip.Response) *Call {
	c := &Call{ua: ua, callID: inv.CallID().Value(), localTag: fromTag(inv), remoteTag: toTag(res),
		localURI: *inv.From().Address.Clone(), remoteURI: *inv.To().Address.Clone(),
		localSDP: inv.Body(), remoteSDP: res.Body(), inviteSeq: inv.CSeq().SeqNo, localSeq: inv.CSeq().SeqNo,
		confirmed: make(chan struct{}), done: make(chan struct{})}
	c.key = dialogKey(c.callID, c.localTag, c.remoteTag)
	if ct := res.Contact(); ct != nil {
		c.remoteTarget = *ct.Address.Clone()
	} else {
		c.remoteTarget = *inv.Recipient.Clone()
	}
	rrs := res.GetHeaders("Record-Route")
	for i := len(rrs) - 1; i >= 0; i-- {
		if rr, ok := rrs[i].(*sip.RecordRouteHeader); ok {
			c.routeSet = append(c.routeSet, *rr.Address.Clone())
		}
	}
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		for _, h := range inv.GetHeaders(name) {
			c.creds = append(c.creds, sip.HeaderClone(h))
		}
	}
	return c
}

// ackFor builds the ACK of a 2xx (RFC 3261 §13.2.2.4): a request within the dialog
// with the INVITE's CSeq number and credentials.
func (c *Call) ackFor() []byte {
	ack := c.newRequest(sip.ACK, c.inviteSeq)
	for _, h := range c.creds {
		ack.AppendHeader(h)
	}
	return []byte(ack.String())
}

// confirm establishes the call of a 2xx: the ACK is sent (and resent for each
// retransmission of the 2xx) and the dialog registered.
func (ua *UA) confirm(tx *clientTx, inv *sip.Request, res *sip.Response) (*Call, error) {
	c := ua.newUACCall(inv, res)
	ack := c.ackFor()
	tx.setAck(ack)
	if err := ua.tp.send(ack, nil); err != nil {
		return nil, fmt.Errorf("sipua: send ACK: %w", err)
	}
	c.confirmOnce.Do(func() { close(c.confirmed) })
	if err := ua.addDialog(c); err != nil {
		return nil, err
	}
	return c, nil
}

// endFork acknowledges a 2xx from a second fork of inv and ends that dialog with BYE
// (RFC 3261 §13.2.2.4: the UAC must ACK every 2xx; only one call is wanted).
func (ua *UA) endFork(inv *sip.Request, res *sip.Response) {
	c := ua.newUACCall(inv, res)
	if err := ua.tp.send(c.ackFor(), nil); err != nil {
		return
	}
	if ua.addDialog(c) != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 64*ua.t1)
	defer cancel()
	c.bye(ctx, EndForked)
}

// reasonPhrases are the RFC 3261 §21 phrases of the statuses an application may
// reject a call with.
var reasonPhrases = map[int]string{
	400: "Bad Request", 403: "Forbidden", 404: "Not Found", 415: "Unsupported Media Type",
	480: "Temporarily Unavailable", 486: "Busy Here", 488: "Not Acceptable Here",
	500: "Server Internal Error", 503: "Service Unavailable", 600: "Busy Everywhere", 603: "Decline",
}

// sanitizeReason keeps a reason phrase on one line of printable ASCII.
func sanitizeReason(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch < 0x20 || ch >= 0x7f {
			b[i] = '?'
		}
	}
	if len(b) > 160 {
		b = b[:160]
	}
	return string(b)
}
