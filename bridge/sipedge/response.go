package sipedge

import (
	"github.com/emiago/sipgo/sip"
	"github.com/simplegw/simplegw/bridge/sdp"
)

// onResponse handles a response to the branch (RFC 3261 §16.7): 100 is
// absorbed, other provisional responses and 2xx are forwarded at once, and
// final error responses are kept until every branch has answered.
func (b *branch) onResponse(res *sip.Response) {
	pc := b.pc
	if !popVia(res) {
		return
	}
	code := res.StatusCode
	pc.run(func() { b.onResponseLocked(res, code) })
}

func (b *branch) onResponseLocked(res *sip.Response, code int) {
	pc := b.pc
	switch {
	case code < 200:
		b.provisional = true
		if b.cancelWanted && !b.cancelSent {
			b.sendCancelLocked()
		}
		if code == 100 {
			return
		}
		if pc.tC != nil && pc.finalSent == 0 {
			pc.tC.Reset(timerC) // RFC 3261 §16.7 step 2
		}
		if pc.finalSent == 0 {
			pc.sendLocked(res)
		}
	case code < 300:
		b.final = res
		if pc.invite {
			b.inspectAnswer(res)
		}
		switch {
		case pc.invite && pc.finalSent >= 300:
			// The server transaction has completed with an error (a CANCEL
			// raced this answer); a 2xx is still forwarded (§16.7 step 10).
			ensureContentLength(res)
			conn := pc.u.stx.Connection()
			pc.laterLocked(func() { conn.WriteMsg(res) })
		case pc.invite || pc.finalSent == 0:
			if pc.finalSent == 0 {
				pc.finalSent = code
			}
			pc.sendLocked(res)
		}
		if pc.invite {
			pc.cancelOthersLocked(b)
			pc.stopTimersLocked()
		}
	default:
		b.final = res
		if code >= 600 {
			pc.cancelOthersLocked(b)
		}
		pc.maybeFinishLocked()
	}
}

// inspectAnswer checks the MSRP SDP of a browser's 2xx to an INVITE
// (RFC 4975 §8, RFC 6135). A final response cannot be refused, so a bad one
// is only logged; the caller's MSRP stack will report the failure.
func (b *branch) inspectAnswer(res *sip.Response) {
	body := res.Body()
	if b.flow == nil || !b.flow.isWS() || len(body) == 0 || contentType(res) != "application/sdp" || !sdp.HasMSRP(body) {
		return
	}
	offer := len(b.pc.work.Body()) == 0 // late offer: the 2xx carries the offer
	if _, err := sdp.Check(body, offer); err != nil {
		b.pc.e.log.Warn("malformed MSRP SDP in a browser's 2xx", "error", err, "call-id", callIDOf(res))
	}
}

// onRetransmission forwards a retransmitted 2xx to an INVITE upstream,
// statelessly (RFC 6026 §8.4): the UAS retransmits until the ACK arrives.
func (b *branch) onRetransmission(res *sip.Response) {
	if !popVia(res) {
		return
	}
	ensureContentLength(res)
	b.pc.u.stx.Connection().WriteMsg(res)
}

// onDone ends the branch: a branch without a final response gets one of the
// edge's (RFC 3261 §16.7 step 2, §16.9): 408 on timeout, 487 when canceled,
// 430/480/503 when its flow or next hop failed.
func (b *branch) onDone(err error, flowGone bool) {
	b.pc.run(func() { b.onDoneLocked(err, flowGone) })
}

func (b *branch) onDoneLocked(err error, flowGone bool) {
	pc := b.pc
	if b.final == nil {
		switch {
		case flowGone:
			b.final = b.goneResponse()
		case isTimeout(err):
			b.final = newResponse(pc.u.req, 408, "Request Timeout")
		case pc.canceled || b.cancelWanted:
			b.final = newResponse(pc.u.req, 487, "Request Terminated")
		default:
			b.final = b.goneResponse()
		}
	}
	pc.maybeFinishLocked()
}

// maybeFinishLocked sends the best final response upstream once every branch
// has one (RFC 3261 §16.7 step 6): a 6xx if any, else the lowest class; a
// 503 is sent as 500.
func (pc *proxyCtx) maybeFinishLocked() {
	if pc.finalSent != 0 {
		return
	}
	var best *sip.Response
	for _, b := range pc.branches {
		if b.final == nil {
			return
		}
		if best == nil || rank(b.final.StatusCode) < rank(best.StatusCode) {
			best = b.final
		}
	}
	if best == nil {
		return
	}
	if best.StatusCode == 503 {
		best = best.Clone()
		best.StatusCode, best.Reason = 500, "Next Hop Unavailable"
	}
	pc.finalSent = best.StatusCode
	pc.stopTimersLocked()
	pc.sendLocked(best)
}

// rank orders final responses for §16.7 step 6: 6xx first, then by class.
func rank(code int) int {
	if code >= 600 {
		return 0
	}
	return code / 100
}

// cancelAll cancels every pending branch: a CANCEL from upstream (§16.10),
// Timer C (§16.8), or the caller's flow closing.
func (pc *proxyCtx) cancelAll() {
	pc.run(func() {
		pc.canceled = true
		pc.cancelOthersLocked(nil)
		pc.maybeFinishLocked()
	})
}

// cancelOthersLocked cancels the pending branches other than except and arms
// the guard that answers 487 if they never respond.
func (pc *proxyCtx) cancelOthersLocked(except *branch) {
	pending := false
	for _, b := range pc.branches {
		if b == except || b.final != nil {
			continue
		}
		pending = true
		b.cancelWanted = true
		if b.req == nil {
			continue // still dialling; send sees cancelWanted via pc.canceled
		}
		if b.provisional && !b.cancelSent {
			b.sendCancelLocked()
		}
	}
	if pending && pc.invite && pc.tG == nil {
		pc.tG = pc.e.afterFunc(cancelGuard, "cancel guard", pc.cancelGuardFired)
	}
	if except == nil {
		for _, b := range pc.branches {
			if b.final == nil && b.req == nil {
				b.final = newResponse(pc.u.req, 487, "Request Terminated")
			}
		}
	}
}

// sendCancelLocked sends CANCEL for the branch (RFC 3261 §9.1): same
// Request-URI, top Via, Route, Call-ID, From, To and CSeq number as the
// branch's request. It is only called after a provisional response. The
// CANCEL is built under pc.mu and sent once it is released (see proxyCtx).
func (b *branch) sendCancelLocked() {
	if b.req == nil || b.req.Method != sip.INVITE {
		return
	}
	b.cancelSent = true
	r := b.req
	cancel := sip.NewRequest(sip.CANCEL, *r.Recipient.Clone())
	cancel.AppendHeader(r.Via().Clone())
	for _, h := range r.GetHeaders("Route") {
		cancel.AppendHeader(sip.HeaderClone(h))
	}
	mf := sip.MaxForwardsHeader(70)
	cancel.AppendHeader(&mf)
	cancel.AppendHeader(sip.HeaderClone(r.From()))
	cancel.AppendHeader(sip.HeaderClone(r.To()))
	cancel.AppendHeader(sip.HeaderClone(r.CallID()))
	cancel.AppendHeader(&sip.CSeqHeader{SeqNo: r.CSeq().SeqNo, MethodName: sip.CANCEL})
	cancel.SetBody(nil)
	cancel.SetTransport(b.flow.transport)
	e, f := b.pc.e, b.flow
	b.pc.laterLocked(func() {
		if _, err := e.startClientTx(cancel, f, txHandlers{}); err != nil {
			e.log.Debug("CANCEL not sent", "error", err)
		}
	})
}

// timerCFired cancels an INVITE that rang too long (RFC 3261 §16.8).
func (pc *proxyCtx) timerCFired() {
	pc.run(func() {
		if pc.finalSent != 0 {
			return
		}
		pc.canceled = true
		pc.cancelOthersLocked(nil)
		pc.maybeFinishLocked()
	})
}

// cancelGuardFired ends canceled branches that never answered: they count as
// 487 and their transactions are dropped.
func (pc *proxyCtx) cancelGuardFired() {
	pc.run(func() {
		for _, b := range pc.branches {
			if b.final == nil {
				b.final = newResponse(pc.u.req, 487, "Request Terminated")
				if b.ctx != nil {
					tx := b.ctx.tx
					pc.e.goSafe("terminate canceled branch", tx.Terminate)
				}
			}
		}
		pc.maybeFinishLocked()
	})
}

// run is the entry point of every event of the response context: it holds
// sendMu, runs fn under mu, then, with mu released, performs the sends fn
// queued with laterLocked, in order (see proxyCtx).
func (pc *proxyCtx) run(fn func()) {
	pc.sendMu.Lock()
	defer pc.sendMu.Unlock()
	acts := func() []func() {
		pc.mu.Lock()
		defer pc.mu.Unlock()
		fn()
		acts := pc.acts
		pc.acts = nil
		return acts
	}()
	for _, a := range acts {
		a()
	}
}

// laterLocked queues an action that writes to a flow or starts a
// transaction; run performs it once pc.mu is released.
func (pc *proxyCtx) laterLocked(a func()) {
	pc.acts = append(pc.acts, a)
}

// sendLocked queues res for the server transaction.
func (pc *proxyCtx) sendLocked(res *sip.Response) {
	u := pc.u
	pc.laterLocked(func() { u.send(res) })
}

// accepted reports whether a 2xx was sent upstream: the INVITE server
// transaction is in the Accepted state (RFC 6026 §7.1).
func (pc *proxyCtx) accepted() bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.finalSent >= 200 && pc.finalSent < 300
}

// serverTxEnded runs once the INVITE server transaction is gone. Normally a
// final response was sent and only the timers are left to stop; when it
// failed before one (its flow broke while a response was being sent), no one
// is left to answer, so the pending branches are canceled (RFC 3261 §16.10)
// instead of ringing until Timer C.
func (pc *proxyCtx) serverTxEnded() {
	closing := pc.e.isClosed()
	pc.run(func() {
		if pc.finalSent != 0 || closing {
			pc.stopTimersLocked()
			return
		}
		if pc.tC != nil {
			pc.tC.Stop()
		}
		pc.canceled = true
		pc.cancelOthersLocked(nil) // keeps the cancel guard
		pc.maybeFinishLocked()
	})
}

// stopTimers stops Timer C and the cancel guard. It takes only pc.mu and
// must not be called with it held.
func (pc *proxyCtx) stopTimers() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.stopTimersLocked()
}

func (pc *proxyCtx) stopTimersLocked() {
	if pc.tC != nil {
		pc.tC.Stop()
	}
	if pc.tG != nil {
		pc.tG.Stop()
	}
}

// callIDOf returns the Call-ID of m for logs, or "" when it has none.
func callIDOf(m sip.Message) string {
	if h := m.CallID(); h != nil {
		return h.Value()
	}
	return ""
}
