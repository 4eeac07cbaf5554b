package sipedge

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/simplegw/simplegw/bridge/sdp"
)

// Proxy timers.
const (
	// timerC bounds how long an INVITE branch may stay without a final
	// response (RFC 3261 §16.6 step 11: more than 3 minutes).
	timerC = 3*time.Minute + 5*time.Second
	// cancelGuard is how long canceled branches may take to answer before
	// the edge answers 487 itself (64*T1, RFC 3261 §17.1.1.2 Timer B).
	cancelGuard = 32 * time.Second
)

// uas is a request the edge received and owns a server transaction for.
type uas struct {
	e   *Edge
	stx *sip.ServerTx
	req *sip.Request // as received, Via stamped; never modified afterwards
	in  *flow        // where it came from
	key string       // server transaction key
}

// respond answers the request with a response of the edge's own.
func (u *uas) respond(code int, reason string, extra ...sip.Header) {
	res := newResponse(u.req, code, reason)
	for _, h := range extra {
		res.AppendHeader(h)
	}
	u.send(res)
}

func (u *uas) send(res *sip.Response) {
	ensureContentLength(res)
	if err := u.stx.Respond(res); err != nil {
		u.e.log.Debug("response not sent", "status", res.StatusCode, "error", err)
	}
}

// handleRequest processes a request from flow in: RFC 3261 §16.3 validation,
// §18.2.1 Via stamping, §17.2.3 transaction matching, then routing.
func (e *Edge) handleRequest(in *flow, req *sip.Request) {
	if reason := validate(req); reason != "" {
		// Without Via and CSeq a response cannot be matched: drop
		// (RFC 3261 §8.1.3.3, §17.1.3).
		if !req.IsAck() && answerable(req) {
			res := newResponse(req, 400, reasonPhrase(reason))
			if ensureContentLength(res); roundTrips(res) {
				in.responseFlow(req).WriteMsg(res)
			}
		}
		return
	}
	stampVia(in, req)
	if req.IsAck() {
		e.handleAck(in, req)
		return
	}
	key := serverTxKey(req, req.Method)
	e.txMu.Lock()
	stx := e.serverTx[key]
	e.txMu.Unlock()
	if stx != nil {
		// A retransmission: the transaction answers it (RFC 3261 §17.2).
		stx.Receive(req)
		return
	}
	stx = sip.NewServerTx(key, req, in.responseFlow(req), e.log)
	if err := stx.Init(); err != nil {
		e.log.Debug("server transaction", "error", err)
		return
	}
	e.txMu.Lock()
	e.serverTx[key] = stx
	e.txMu.Unlock()
	stx.OnTerminate(func(k string, _ error) {
		e.txMu.Lock()
		if e.serverTx[k] == stx {
			delete(e.serverTx, k)
		}
		pc := e.proxies[k]
		if pc != nil && pc.u.stx == stx {
			delete(e.proxies, k)
		} else {
			pc = nil
		}
		e.txMu.Unlock()
		if pc != nil {
			// sipgo runs this hook on whatever goroutine ended the
			// transaction, possibly one inside pc.run: never lock here.
			e.goSafe("server transaction ended", pc.serverTxEnded)
		}
	})
	u := &uas{e: e, stx: stx, req: req, in: in, key: key}
	if req.IsCancel() {
		e.handleCancel(u)
		return
	}
	if req.IsInvite() {
		u.respond(100, "Trying")
	}
	e.route(u)
}

// route decides where a request goes: RFC 3261 §16.4 route preprocessing
// (with the edge's flow tokens), then §16.5 target determination.
func (e *Edge) route(u *uas) {
	req := u.req
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		if req.Method == sip.OPTIONS && e.isLocal(&req.Recipient) {
			e.answerOptions(u)
			return
		}
		u.respond(483, "Too Many Hops")
		return
	}
	if u.in.isWS() && (req.Method == sip.INVITE || req.Method == sip.UPDATE) &&
		len(req.Body()) > 0 && contentType(req) == "application/sdp" && sdp.HasMSRP(req.Body()) {
		if _, err := sdp.Check(req.Body(), true); err != nil {
			var se *sdp.Error
			if errors.As(err, &se) {
				u.respond(se.Code, se.Reason)
				return
			}
			u.respond(400, reasonPhrase("Bad Request: "+err.Error()))
			return
		}
	}

	work := req.Clone()
	outOfDialog := true
	if to := work.To(); to != nil && to.Params.Has("tag") {
		outOfDialog = false
	}
	record := outOfDialog && dialogForming(work.Method)

	// RFC 3261 §16.4 and RFC 5658 §5: remove the edge's own Route entries;
	// the last one names the flow toward the next hop.
	if token := e.popOwnRoutes(work); token != "" {
		f := e.flowByToken(token)
		if f == nil {
			u.respond(430, "Flow Failed") // RFC 5626 §5.3
			return
		}
		if f != u.in {
			if !e.admit(u, work, false) {
				return
			}
			e.proxy(u, work, []target{{flow: f, goneCode: 430, goneReason: "Flow Failed"}}, record, false)
			return
		}
	}
	toCore := e.upstream != nil && !e.fromUpstream(u.in)
	if r := work.Route(); toCore && r != nil && !e.namesUpstream(&r.Address) {
		// A preloaded Route must not lead around the core: drop it.
		for work.Route() != nil && work.RemoveHeader("Route") {
		}
	}
	if r := work.Route(); r != nil {
		hop, err := hopFromURI(&r.Address)
		if err != nil {
			u.respond(480, reasonPhrase("Temporarily Unavailable: next hop "+err.Error()))
			return
		}
		if !e.admit(u, work, true) {
			return
		}
		e.proxy(u, work, []target{{hop: hop}}, record, false)
		return
	}
	ruri := &work.Recipient
	local := e.isLocal(ruri)
	if toCore {
		if local && ruri.User == "" && work.Method == sip.OPTIONS {
			e.answerOptions(u)
			return
		}
		e.proxy(u, work, []target{{hop: e.upstream}}, record, work.Method == sip.REGISTER)
		return
	}
	if local {
		if e.upstream != nil {
			// From the core, addressed to the edge itself.
			if work.Method == sip.OPTIONS {
				e.answerOptions(u)
				return
			}
			u.respond(404, "Not Found")
			return
		}
		e.handleLocal(u, work)
		return
	}
	if isInvalidHost(ruri.Host) {
		// A browser's contact (RFC 7118 §5): reachable only through the
		// connection it registered from.
		if f := e.reg.flowForContact(ruri); f != nil {
			if !e.admit(u, work, false) {
				return
			}
			e.proxy(u, work, []target{{flow: f, goneCode: 430, goneReason: "Flow Failed"}}, record, false)
			return
		}
		u.respond(480, "Temporarily Unavailable")
		return
	}
	hop, err := hopFromURI(ruri)
	if err != nil {
		u.respond(416, reasonPhrase("Unsupported URI Scheme: "+err.Error()))
		return
	}
	if !e.admit(u, work, e.relayTarget(ruri)) {
		return
	}
	e.proxy(u, work, []target{{hop: hop}}, record, false)
}

// handleLocal serves a request addressed to the embedded domain.
func (e *Edge) handleLocal(u *uas, work *sip.Request) {
	switch work.Method {
	case sip.REGISTER:
		e.reg.register(u)
		return
	case sip.PUBLISH:
		e.pres.publish(u)
		return
	case sip.SUBSCRIBE:
		if pkg, _ := eventPackage(work); pkg == "presence" {
			e.pres.subscribe(u)
			return
		}
	case sip.OPTIONS:
		if work.Recipient.User == "" {
			e.answerOptions(u)
			return
		}
	}
	if work.Recipient.User == "" {
		u.respond(404, "Not Found")
		return
	}
	targets := e.reg.targets(e.aorKey(work.Recipient.User))
	if len(targets) == 0 {
		u.respond(480, "Temporarily Unavailable")
		return
	}
	if !e.admit(u, work, false) {
		return
	}
	record := dialogForming(work.Method) && !work.To().Params.Has("tag")
	e.proxy(u, work, targets, record, false)
}

// answerOptions answers an OPTIONS addressed to the edge (RFC 3261 §11.2).
func (e *Edge) answerOptions(u *uas) {
	u.respond(200, "OK",
		sip.NewHeader("Allow", allowMethods),
		sip.NewHeader("Accept", "application/sdp, application/pidf+xml"),
		sip.NewHeader("Supported", "path"))
}

// handleCancel answers a CANCEL (RFC 3261 §16.10): 200 and cancel the
// pending branches of the INVITE, or 481 when there is no such INVITE.
func (e *Edge) handleCancel(u *uas) {
	key := serverTxKey(u.req, sip.INVITE)
	e.txMu.Lock()
	pc := e.proxies[key]
	e.txMu.Unlock()
	if pc == nil {
		u.respond(481, "Call/Transaction Does Not Exist")
		return
	}
	u.respond(200, "OK")
	pc.cancelAll()
}

// handleAck forwards an ACK. An ACK matching a server transaction
// acknowledges a non-2xx final response of this hop and is absorbed
// (RFC 3261 §17.2.1); any other ACK (for a 2xx) is forwarded statelessly
// along its route (§16.11, §13.2.2.4).
//
// An ACK that matches an INVITE server transaction whose final response was
// a 2xx (the Accepted state of RFC 6026 §7.1: a client reusing the INVITE's
// branch, or an RFC 2543 client) is a 2xx ACK too: it is forwarded, never
// handed to the transaction, which would only park it for Timer L.
//
// An ACK with Max-Forwards 0 is dropped (RFC 3261 §16.3 item 3; an ACK is
// never answered).
func (e *Edge) handleAck(in *flow, req *sip.Request) {
	key := serverTxKey(req, sip.ACK)
	e.txMu.Lock()
	stx := e.serverTx[key]
	pc := e.proxies[key]
	e.txMu.Unlock()
	if stx != nil && !(pc != nil && pc.u.stx == stx && pc.accepted()) {
		stx.Receive(req)
		return
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		e.log.Debug("ACK dropped: Max-Forwards 0")
		return
	}
	work := req.Clone()
	var f *flow
	if token := e.popOwnRoutes(work); token != "" {
		if f = e.flowByToken(token); f == nil {
			return
		}
		if f == in {
			f = nil
		}
	}
	var hop *nextHop
	if f == nil {
		ruri := &work.Recipient
		toCore := e.upstream != nil && !e.fromUpstream(in)
		if r := work.Route(); toCore && r != nil && !e.namesUpstream(&r.Address) {
			for work.Route() != nil && work.RemoveHeader("Route") {
			}
		}
		// Embedded mode: only a registered client's ACK may leave for a
		// foreign next hop (no open relay; see admit).
		mayRelay := e.upstream != nil || e.reg.registered(in)
		switch {
		case work.Route() != nil:
			if mayRelay {
				hop, _ = hopFromURI(&work.Route().Address)
			}
		case toCore:
			hop = e.upstream
		case isInvalidHost(ruri.Host):
			f = e.reg.flowForContact(ruri)
		case !e.isLocal(ruri):
			if mayRelay || !e.relayTarget(ruri) {
				hop, _ = hopFromURI(ruri)
			}
		}
		if f == nil && hop == nil {
			e.log.Debug("ACK dropped: no route", "ruri", ruri.String())
			return
		}
	}
	send := func(f *flow) {
		out := e.forwardCopy(work, nil, f)
		if err := f.WriteMsg(out); err != nil {
			e.log.Debug("ACK not sent", "error", err)
		}
	}
	if f != nil {
		send(f)
		return
	}
	if pf := e.pooled(hop); pf != nil {
		send(pf)
		return
	}
	if _, err := netip.ParseAddr(hop.host); err == nil && hop.transport == "UDP" {
		// A numeric UDP hop needs neither a lookup nor a dial: send from here, in order.
		if pf, err := e.flowTo(hop); err == nil {
			send(pf)
		}
		return
	}
	// A name to resolve or a connection to dial must never hold up this reader (for UDP
	// it is the only one, serving every client).
	e.goSafe("dial ACK next hop", func() {
		if f, err := e.flowTo(hop); err == nil {
			send(f)
		}
	})
}

// handleResponse hands a response to its client transaction (RFC 3261
// §17.1.3). Responses matching none are dropped: the edge forwards only what
// its transactions produce.
//
// A response without From, To, Call-ID or CSeq (RFC 3261 §8.1.1 lists them
// as mandatory, §20) or whose status is outside 100-699 (§7.2) is dropped
// as malformed before it reaches a transaction.
func (e *Edge) handleResponse(in *flow, res *sip.Response) {
	if res.From() == nil || res.To() == nil || res.CallID() == nil || res.CSeq() == nil ||
		res.StatusCode < 100 || res.StatusCode > 699 {
		e.log.Debug("malformed response dropped", "status", res.StatusCode, "remote", in.remote)
		return
	}
	key, err := sip.ClientTxKeyMake(res)
	if err != nil || !roundTrips(res) {
		return
	}
	e.txMu.Lock()
	c := e.clientTx[key]
	e.txMu.Unlock()
	if c == nil {
		e.log.Debug("stray response dropped", "status", res.StatusCode, "remote", in.remote)
		return
	}
	c.tx.Receive(res)
}

// popOwnRoutes removes the Route entries naming this edge from the top of
// req's Route set (RFC 3261 §16.4; two at once for a double Record-Route,
// RFC 5658 §5) and returns the flow token of the last one removed, or "".
func (e *Edge) popOwnRoutes(req *sip.Request) string {
	token := ""
	for {
		r := req.Route()
		if r == nil || !e.isOwnURI(&r.Address) {
			return token
		}
		token = e.tokenOf(&r.Address)
		req.RemoveHeader("Route")
	}
}

// ownUser is the user part prefix of the edge's Route, Record-Route and Path
// URIs; a flow token follows a '-'.
func (e *Edge) ownUser() string { return "sgw" + e.instanceID }

func (e *Edge) isOwnURI(u *sip.Uri) bool {
	return strings.HasPrefix(u.User, e.ownUser()) || e.isLocal(u)
}

func (e *Edge) tokenOf(u *sip.Uri) string {
	t, _ := strings.CutPrefix(u.User, e.ownUser()+"-")
	if t == u.User {
		return ""
	}
	return t
}

// routeURI is a URI of the edge as seen from flow facing, carrying token
// (RFC 5658 §5 for Record-Route, RFC 3327 for Path).
func (e *Edge) routeURI(facing *flow, token string) sip.Uri {
	host, port := e.sentBy(facing)
	u := sip.Uri{Scheme: "sip", User: e.ownUser(), Host: host, Port: port, UriParams: sip.NewParams()}
	if token != "" {
		u.User += "-" + token
	}
	switch facing.transport {
	case "WS":
		u.UriParams.Add("transport", "ws")
	case "TCP":
		u.UriParams.Add("transport", "tcp")
	case "TLS":
		u.UriParams.Add("transport", "tls")
	}
	u.UriParams.Add("lr", "")
	return u
}

// isLocal reports whether u names this edge or its domain: the configured
// domain, or an IP address and port the edge listens on.
func (e *Edge) isLocal(u *sip.Uri) bool {
	host := strings.ToLower(strings.Trim(u.Host, "[]"))
	if host == e.domain {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	e.mu.Lock()
	defer e.mu.Unlock()
	check := func(a net.Addr, transport string) bool {
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return false
		}
		want := u.Port
		if want == 0 {
			want = sip.DefaultUdpPort
			if transport == "TLS" || u.Scheme == "sips" {
				want = sip.DefaultTlsPort
			}
		}
		if int(ap.Port()) != want {
			return false
		}
		la := ap.Addr().Unmap()
		return la == ip || la.IsUnspecified() && isLocalIP(ip)
	}
	for tp, addrs := range e.local {
		for _, a := range addrs {
			if check(a, tp) {
				return true
			}
		}
	}
	for _, s := range e.udp {
		if check(s.pc.LocalAddr(), "UDP") {
			return true
		}
	}
	return false
}

var (
	localIPsOnce sync.Once
	localIPs     []netip.Addr
)

// isLocalIP reports whether ip is a loopback address or one of the host's.
func isLocalIP(ip netip.Addr) bool {
	if ip.IsLoopback() {
		return true
	}
	localIPsOnce.Do(func() {
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				localIPs = append(localIPs, p.Addr().Unmap())
			}
		}
	})
	for _, l := range localIPs {
		if l == ip {
			return true
		}
	}
	return false
}

func isInvalidHost(host string) bool {
	return strings.HasSuffix(strings.ToLower(host), ".invalid")
}

// fromUpstream reports whether f is the core configured as upstream: the
// connection the edge dialled to it, or its address.
func (e *Edge) fromUpstream(f *flow) bool {
	if e.upstream == nil || f.isWS() {
		return false
	}
	e.upMu.Lock()
	ap, at := e.upAddr, e.upAt
	e.upMu.Unlock()
	if at.IsZero() || time.Since(at) > time.Minute {
		var err error
		if ap, err = e.resolve(e.upstream); err != nil {
			return false
		}
		e.upMu.Lock()
		e.upAddr, e.upAt = ap, time.Now()
		e.upMu.Unlock()
	}
	if f.poolKey == e.upstream.transport+"|"+ap.String() {
		return true
	}
	return f.transport == e.upstream.transport && f.remote == ap.String()
}

// forwardCopy returns the copy of work sent to f (RFC 3261 §16.6): the
// Request-URI replaced by ruri when set, Max-Forwards decremented, the
// edge's Via on top, Content-Length present.
//
// top are headers placed right below the Via, in order (Record-Route, Path),
// so that they precede the existing values of the same name.
func (e *Edge) forwardCopy(work *sip.Request, ruri *sip.Uri, f *flow, top ...sip.Header) *sip.Request {
	out := work.Clone()
	if ruri != nil {
		out.Recipient = *ruri.Clone()
	}
	mf := sip.MaxForwardsHeader(70)
	if h := out.MaxForwards(); h != nil {
		// Headers of a clone may be shared: replace, never modify. Callers
		// refuse Max-Forwards 0 (RFC 3261 §16.3 item 3); never wrap around.
		mf = sip.MaxForwardsHeader(0)
		if v := h.Val(); v > 0 {
			mf = sip.MaxForwardsHeader(v - 1)
		}
		out.ReplaceHeader(&mf)
	} else {
		out.AppendHeader(&mf)
	}
	host, port := e.sentBy(f)
	via := &sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       f.transport,
		Host:            host,
		Port:            port,
		Params:          sip.NewParams(),
	}
	via.Params.Add("branch", newBranch())
	if f.isUDP() {
		via.Params.Add("rport", "")
	}
	for i := len(top) - 1; i >= 0; i-- {
		out.PrependHeader(top[i])
	}
	out.PrependHeader(via)
	ensureContentLength(out)
	out.SetTransport(f.transport)
	out.SetDestination(f.remote)
	return out
}

// target is one destination of a proxied request (RFC 3261 §16.5).
type target struct {
	flow *flow    // send over this flow, or
	hop  *nextHop // resolve and send to this hop
	ruri *sip.Uri // new Request-URI (a registered contact), or nil

	// goneCode and goneReason answer the branch when the flow is gone:
	// 430 Flow Failed for flow tokens (RFC 5626 §5.3), 480 for registered
	// contacts; zero means 503 (RFC 3261 §16.9), sent upstream as 500.
	goneCode   int
	goneReason string
}

// proxyCtx is the response context of a proxied request (RFC 3261 §16.7).
//
// Concurrency: mu guards branches' progress, finalSent, canceled, the timers
// and acts; the fields set by proxy are immutable afterwards. Each branch's
// responses arrive in order on its client transaction's consumer goroutine.
//
// Nothing that writes to a flow or starts a transaction runs under mu:
// sending may fail and make sipgo run termination hooks, or close a flow
// whose cleanup cancels this very context, on the same goroutine. Every event
// enters through run, which takes sendMu and then mu; the handlers decide
// under mu and queue their sends in acts (laterLocked), and run performs them
// after releasing mu but before releasing sendMu, so that responses leave in
// the order they were decided. Lock order: sendMu, then mu; nothing run
// performs may take sendMu again (flow.send closes a slow flow
// asynchronously, and the server transaction's termination hook only starts
// a goroutine).
type proxyCtx struct {
	e      *Edge
	u      *uas
	work   *sip.Request // the request after route preprocessing
	invite bool
	record bool // add a double Record-Route (RFC 5658 §5)
	path   bool // add Path (RFC 3327), REGISTER toward the upstream registrar

	sendMu    sync.Mutex
	mu        sync.Mutex
	acts      []func() // queued by laterLocked, performed by run
	branches  []*branch
	finalSent int // status of the final response sent upstream; 0 = none yet
	canceled  bool
	tC, tG    *time.Timer // Timer C; cancel guard
}

// branch is one forwarded copy of the request (RFC 3261 §16.6).
type branch struct {
	pc     *proxyCtx
	target target

	// Guarded by pc.mu.
	flow         *flow
	req          *sip.Request // as sent
	ctx          *clientTxn
	provisional  bool
	final        *sip.Response
	cancelWanted bool
	cancelSent   bool
}

// proxy forwards u's request to targets in parallel (RFC 3261 §16.6, §16.7).
func (e *Edge) proxy(u *uas, work *sip.Request, targets []target, record, path bool) {
	pc := &proxyCtx{e: e, u: u, work: work, invite: work.Method == sip.INVITE, record: record, path: path}
	for _, t := range targets {
		pc.branches = append(pc.branches, &branch{pc: pc, target: t})
	}
	if pc.invite {
		e.txMu.Lock()
		e.proxies[u.key] = pc
		e.txMu.Unlock()
		pc.mu.Lock()
		pc.tC = e.afterFunc(timerC, "timer C", pc.timerCFired)
		pc.mu.Unlock()
	}
	for _, b := range pc.branches {
		b.start()
	}
}

// start sends the branch: at once over a known flow, a pooled connection or
// UDP to a numeric host; otherwise after dialling on its own goroutine, so
// that the connection it came from is not held up.
func (b *branch) start() {
	e := b.pc.e
	if f := b.target.flow; f != nil {
		b.send(f)
		return
	}
	hop := b.target.hop
	if f := e.pooled(hop); f != nil {
		b.send(f)
		return
	}
	if _, err := netip.ParseAddr(hop.host); err == nil && hop.transport == "UDP" {
		f, err := e.flowTo(hop)
		if err != nil {
			b.failed(err)
			return
		}
		b.send(f)
		return
	}
	e.goSafe("dial next hop", func() {
		f, err := e.flowTo(hop)
		if err != nil {
			b.failed(err)
			return
		}
		b.send(f)
	})
}

// failed answers a branch that could not be sent (RFC 3261 §16.9).
func (b *branch) failed(err error) {
	pc := b.pc
	pc.e.log.Debug("branch not sent", "error", err)
	pc.run(func() {
		if b.final == nil {
			b.final = b.goneResponse()
		}
		pc.maybeFinishLocked()
	})
}

func (b *branch) goneResponse() *sip.Response {
	code, reason := b.target.goneCode, b.target.goneReason
	if code == 0 {
		code, reason = 503, "Service Unavailable"
	}
	return newResponse(b.pc.u.req, code, reason)
}

func (b *branch) send(f *flow) {
	var out *sip.Request
	b.pc.run(func() { out = b.prepareLocked(f) })
	if out == nil {
		return
	}
	c, err := b.pc.e.startClientTx(out, f, txHandlers{
		response:       b.onResponse,
		done:           b.onDone,
		retransmission: b.onRetransmission,
	})
	if err != nil {
		b.failed(err)
		return
	}
	b.pc.mu.Lock()
	b.ctx = c
	b.pc.mu.Unlock()
}

// prepareLocked builds the branch's request for flow f, or answers the
// branch 487 and returns nil when the context no longer wants it sent.
func (b *branch) prepareLocked(f *flow) *sip.Request {
	pc := b.pc
	e := pc.e
	if pc.canceled || b.cancelWanted || pc.finalSent != 0 && !(pc.invite && pc.finalSent < 300) {
		if b.final == nil {
			b.final = newResponse(pc.u.req, 487, "Request Terminated")
		}
		pc.maybeFinishLocked()
		return nil
	}
	var top []sip.Header
	if pc.record {
		// RFC 5658 §5: the entry facing the next hop on top, then the one
		// facing the previous hop; each carries its side's flow token.
		top = append(top,
			&sip.RecordRouteHeader{Address: e.routeURI(f, f.token)},
			&sip.RecordRouteHeader{Address: e.routeURI(pc.u.in, pc.u.in.token)})
	}
	if pc.path {
		// RFC 3327 §5.1: the core routes requests for this contact back
		// through the edge, to the flow the REGISTER came from.
		u := e.routeURI(f, pc.u.in.token)
		top = append(top, sip.NewHeader("Path", "<"+u.String()+">"))
	}
	out := e.forwardCopy(pc.work, b.target.ruri, f, top...)
	b.flow = f
	b.req = out
	return out
}
