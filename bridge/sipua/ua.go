package sipua

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/simplegw/simplegw/bridge/auth"
)

// Defaults for [Config].
const (
	DefaultT1      = 500 * time.Millisecond // RFC 3261 §17.1.1.1
	DefaultT2      = 4 * time.Second
	DefaultExpires = 600
	// maxServerTx bounds the server transactions remembered at once; a request beyond
	// it gets 503.
	maxServerTx = 4096
)

// allowed is the Allow header of this UA (RFC 3261 §20.5).
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE"

// Config configures a [UA].
type Config struct {
	// AOR is the address-of-record, "sip:bob@example.com" (RFC 3261 §10.2).
	AOR string
	// Proxy is "host:port" of the outbound proxy and registrar every request is sent to
	// (RFC 3261 §8.1.2); the port defaults to 5060 (5061 for TLS).
	Proxy string
	// Transport is "udp" (default), "tcp" or "tls".
	Transport string
	// LocalAddr is the local address to bind, "127.0.0.1:0" say; by default the address
	// the system sends from toward Proxy, with a free port.
	LocalAddr string
	// TLSConfig configures the TLS transport (root CAs, ServerName).
	TLSConfig *tls.Config
	// User and Password answer Digest challenges (RFC 3261 §22). User defaults to the
	// user part of AOR.
	User, Password string
	// Expires is the registration interval asked for, in seconds (default
	// DefaultExpires).
	Expires int
	// UserAgent is written in User-Agent and Server headers (default "simplegw-sipua").
	UserAgent string
	// OnInvite is called on its own goroutine for each new INVITE outside a dialog; the
	// application answers it with the IncomingCall's methods. Nil answers 480.
	OnInvite func(*IncomingCall)
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// T1 and T2 are the timers of RFC 3261 §17 (defaults DefaultT1, DefaultT2).
	T1, T2 time.Duration
}

// UA is a SIP user agent bound to one proxy. See the package documentation for its
// goroutines.
type UA struct {
	cfg     Config
	aor     sip.Uri
	user    string
	tp      transport
	log     *slog.Logger
	t1, t2  time.Duration
	contact sip.Uri
	done    chan struct{} // closed when the transport has ended
	readErr error         // why; set before done is closed

	mu       sync.Mutex
	closed   bool
	clients  map[string]*clientTx
	servers  map[string]*serverTx
	dialogs  map[string]*Call
	reg      *registration
	stopOnce sync.Once
}

// New opens the UA's socket toward cfg.Proxy and starts reading. It does not register;
// call [UA.Register].
func New(ctx context.Context, cfg Config) (*UA, error) {
	ua, network, proxy, err := newUA(cfg)
	if err != nil {
		return nil, err
	}
	tp, err := dialTransport(ctx, network, proxy, cfg.LocalAddr, cfg.TLSConfig)
	if err != nil {
		return nil, err
	}
	ua.attach(tp)
	return ua, nil
}

// newUA checks cfg and returns a UA without transport, the transport's Via name and
// the proxy's host:port.
func newUA(cfg Config) (ua *UA, network, proxy string, err error) {
	var aor sip.Uri
	if err := sip.ParseUri(cfg.AOR, &aor); err != nil || (aor.Scheme != "sip" && aor.Scheme != "sips") || aor.User == "" || aor.Host == "" {
		return nil, "", "", fmt.Errorf("sipua: address-of-record %q is not a sip:user@domain URI", cfg.AOR)
	}
	network = strings.ToUpper(cfg.Transport)
	if network == "" {
		network = "UDP"
	}
	if network != "UDP" && network != "TCP" && network != "TLS" {
		return nil, "", "", fmt.Errorf("sipua: transport %q: use udp, tcp or tls", cfg.Transport)
	}
	proxy = cfg.Proxy
	if _, _, err := net.SplitHostPort(proxy); err != nil {
		port := "5060"
		if network == "TLS" {
			port = "5061"
		}
		proxy = net.JoinHostPort(strings.Trim(proxy, "[]"), port)
	}
	user := cfg.User
	if user == "" {
		user = aor.User
	}
	if strings.ContainsFunc(user+cfg.Password+cfg.UserAgent, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, "", "", errors.New("sipua: control characters in user, password or user agent")
	}
	if cfg.Expires <= 0 {
		cfg.Expires = DefaultExpires
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "simplegw-sipua"
	}
	if cfg.T1 <= 0 {
		cfg.T1 = DefaultT1
	}
	if cfg.T2 <= 0 {
		cfg.T2 = DefaultT2
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ua = &UA{cfg: cfg, aor: aor, user: user, log: log, t1: cfg.T1, t2: cfg.T2,
		done: make(chan struct{}), clients: map[string]*clientTx{}, servers: map[string]*serverTx{},
		dialogs: map[string]*Call{}}
	return ua, network, proxy, nil
}

// attach gives the UA its transport and starts reading.
func (ua *UA) attach(tp transport) {
	ua.tp = tp
	host, port := tp.local()
	ua.contact = sip.Uri{Scheme: "sip", User: ua.aor.User, Host: host, Port: port, UriParams: sip.NewParams()}
	if n := tp.network(); n != "UDP" {
		ua.contact.UriParams.Add("transport", strings.ToLower(n))
	}
	go ua.read()
}

// AOR returns the address-of-record.
func (ua *UA) AOR() string { return ua.aor.String() }

// Contact returns the Contact URI the UA registers and puts in dialogs.
func (ua *UA) Contact() string { return ua.contact.String() }

// Done is closed when the UA's connection has ended (after Close, or when a TCP or TLS
// connection to the proxy is lost); Err says why.
func (ua *UA) Done() <-chan struct{} { return ua.done }

// Err returns nil while the UA runs, then why its connection ended (ErrClosed after
// Close).
func (ua *UA) Err() error {
	select {
	case <-ua.done:
		return ua.readErr
	default:
		return nil
	}
}

// Close stops registration refreshes, ends every call without signalling (send BYE
// and un-REGISTER first for a clean exit) and closes the socket.
func (ua *UA) Close() error {
	ua.mu.Lock()
	ua.closed = true
	calls := make([]*Call, 0, len(ua.dialogs))
	for _, c := range ua.dialogs {
		calls = append(calls, c)
	}
	reg := ua.reg
	ua.mu.Unlock()
	if reg != nil {
		reg.stop()
	}
	for _, c := range calls {
		c.end(EndClosed)
	}
	err := ua.tp.close()
	<-ua.done
	return err
}

func (ua *UA) reliable() bool { return ua.tp.network() != "UDP" }

// read is the reading goroutine.
func (ua *UA) read() {
	p := sip.NewParser()
	p.MaxMessageLength = maxMessage
	err := ua.tp.run(p, func(m sip.Message, src net.Addr) {
		switch m := m.(type) {
		case *sip.Response:
			ua.onResponse(m)
		case *sip.Request:
			ua.onRequest(m, src)
		}
	})
	ua.mu.Lock()
	if ua.closed || errors.Is(err, net.ErrClosed) {
		err = ErrClosed
	} else {
		err = fmt.Errorf("%w: connection to the proxy lost: %v", ErrClosed, err)
	}
	ua.closed = true
	clients := make([]*clientTx, 0, len(ua.clients))
	for _, tx := range ua.clients {
		clients = append(clients, tx)
	}
	calls := make([]*Call, 0, len(ua.dialogs))
	for _, c := range ua.dialogs {
		calls = append(calls, c)
	}
	ua.mu.Unlock()
	ua.readErr = err
	close(ua.done)
	for _, tx := range clients {
		tx.fail(err)
	}
	for _, c := range calls {
		c.end(EndClosed)
	}
}

// onResponse matches a response to its client transaction (RFC 3261 §17.1.3); others
// are dropped (§8.1.3.2 concerns responses of known transactions).
func (ua *UA) onResponse(res *sip.Response) {
	via, cseq := res.Via(), res.CSeq()
	if via == nil || cseq == nil || res.CallID() == nil || res.From() == nil || res.To() == nil {
		return
	}
	branch, _ := via.Params.Get("branch")
	ua.mu.Lock()
	tx := ua.clients[clientKey(branch, cseq.MethodName)]
	ua.mu.Unlock()
	if tx != nil {
		tx.receive(res)
	}
}

// onRequest handles a request on the reading goroutine: RFC 3261 §8.2 checks, §17.2.3
// transaction matching, then ACK, CANCEL and in-dialog requests at once and new
// requests that need the application on their own goroutine.
func (ua *UA) onRequest(req *sip.Request, src net.Addr) {
	via, cseq := req.Via(), req.CSeq()
	if via == nil || cseq == nil || req.CallID() == nil || req.From() == nil || req.To() == nil {
		return // cannot be answered (RFC 3261 §8.1.1)
	}
	if !ua.reliable() && src != nil {
		// RFC 3581 §4: a request on UDP carrying rport is answered to its source.
		if v, ok := via.Params.Get("rport"); ok && v == "" {
			host, port, _ := net.SplitHostPort(src.String())
			via.Params.Add("rport", port)
			via.Params.Add("received", host)
		}
	}
	if req.IsAck() {
		ua.onAck(req)
		return
	}
	key := serverKey(req, req.Method)
	ua.mu.Lock()
	if tx := ua.servers[key]; tx != nil {
		ua.mu.Unlock()
		tx.retransmitted()
		return
	}
	if ua.closed || len(ua.servers) >= maxServerTx {
		closed := ua.closed
		ua.mu.Unlock()
		tx := &serverTx{ua: ua, key: key, req: req, src: src}
		if !closed {
			tx.respond(ua.newResponse(req, 503, "Service Unavailable", ""))
		}
		return
	}
	tx := &serverTx{ua: ua, key: key, req: req, src: src}
	ua.servers[key] = tx
	ua.mu.Unlock()

	switch {
	case cseq.MethodName != req.Method:
		tx.respond(ua.newResponse(req, 400, "Bad Request: CSeq method does not match", ""))
		return
	case req.IsCancel():
		ua.onCancel(tx)
		return
	}
	if opts := requireTags(req); len(opts) > 0 {
		// RFC 3261 §8.2.2.3: no extension is supported.
		res := ua.newResponse(req, 420, "Bad Extension", "")
		res.AppendHeader(sip.NewHeader("Unsupported", strings.Join(opts, ", ")))
		tx.respond(res)
		return
	}
	if toTag(req) != "" {
		ua.inDialog(tx)
		return
	}
	switch req.Method {
	case sip.INVITE:
		ua.onInvite(tx)
	case sip.OPTIONS:
		// RFC 3261 §11.2.
		res := ua.newResponse(req, 200, "OK", newTag())
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
		tx.respond(res)
	case sip.BYE, sip.UPDATE:
		tx.respond(ua.newResponse(req, 481, "Call/Transaction Does Not Exist", newTag()))
	default:
		res := ua.newResponse(req, 405, "Method Not Allowed", newTag())
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		tx.respond(res)
	}
}

// requireTags returns the option-tags of the request's Require headers.
func requireTags(req *sip.Request) []string {
	var tags []string
	for _, h := range req.GetHeaders("Require") {
		for _, t := range strings.Split(h.Value(), ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}

// onCancel answers a CANCEL (RFC 3261 §9.2): 481 without a matching INVITE
// transaction, else 200, and a 487 to the INVITE if it had no final response yet.
func (ua *UA) onCancel(tx *serverTx) {
	ua.mu.Lock()
	inv := ua.servers[serverKey(tx.req, sip.INVITE)]
	ua.mu.Unlock()
	if inv == nil {
		tx.respond(ua.newResponse(tx.req, 481, "Call/Transaction Does Not Exist", ""))
		return
	}
	inv.mu.Lock()
	tag := inv.toTag
	inv.mu.Unlock()
	tx.respond(ua.newResponse(tx.req, 200, "OK", tag))
	if inv.respond(ua.newResponse(inv.req, 487, "Request Terminated", tag)) == nil {
		inv.mu.Lock()
		f := inv.onCancel
		inv.onCancel = nil
		inv.mu.Unlock()
		if f != nil {
			f()
		}
	}
}

// onAck handles an ACK: one for a non-2xx final response belongs to the INVITE server
// transaction (RFC 3261 §17.2.1), one for a 2xx to its dialog (§13.3.1.4).
func (ua *UA) onAck(req *sip.Request) {
	ua.mu.Lock()
	tx := ua.servers[serverKey(req, sip.ACK)]
	c := ua.dialogs[dialogKey(req.CallID().Value(), toTag(req), fromTag(req))]
	ua.mu.Unlock()
	if tx != nil {
		tx.mu.Lock()
		code := tx.code
		tx.mu.Unlock()
		if code >= 300 {
			tx.ack()
			return
		}
	}
	if c != nil {
		c.acked(req)
	}
}

// newResponse builds a response to req (RFC 3261 §8.2.6): Via, From, To (with tag when
// the status is above 100 and To has none), Call-ID and CSeq copied, Record-Route
// copied for responses that may create a dialog (§12.1.1).
func (ua *UA) newResponse(req *sip.Request, code int, reason, tag string) *sip.Response {
	res := sip.NewResponse(code, reason)
	sip.CopyHeaders("Via", req, res)
	res.AppendHeader(sip.HeaderClone(req.From()))
	to := sip.HeaderClone(req.To()).(*sip.ToHeader)
	if code > 100 && tag != "" && !to.Params.Has("tag") {
		if to.Params == nil {
			to.Params = sip.NewParams()
		}
		to.Params.Add("tag", tag)
	}
	res.AppendHeader(to)
	res.AppendHeader(sip.HeaderClone(req.CallID()))
	res.AppendHeader(sip.HeaderClone(req.CSeq()))
	if req.IsInvite() && code > 100 && code < 300 {
		sip.CopyHeaders("Record-Route", req, res)
	}
	res.AppendHeader(sip.NewHeader("Server", ua.cfg.UserAgent))
	res.SetBody(nil)
	return res
}

// newRequest builds a request from this UA (RFC 3261 §8.1.1): a Via with a new branch
// and rport, Max-Forwards, From, To, Call-ID, CSeq and User-Agent.
func (ua *UA) newRequest(method sip.RequestMethod, ruri sip.Uri, from sip.FromHeader, to sip.ToHeader, callID string, cseq uint32) *sip.Request {
	req := sip.NewRequest(method, ruri)
	req.AppendHeader(ua.newVia())
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	req.AppendHeader(sip.NewHeader("User-Agent", ua.cfg.UserAgent))
	req.SetBody(nil)
	return req
}

func (ua *UA) newVia() *sip.ViaHeader {
	host, port := ua.tp.local()
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: ua.tp.network(),
		Host: host, Port: port, Params: sip.NewParams()}
	via.Params.Add("branch", "z9hG4bK"+randHex(10))
	via.Params.Add("rport", "")
	return via
}

// contactHeader is the UA's Contact (RFC 3261 §8.1.1.8).
func (ua *UA) contactHeader() *sip.ContactHeader {
	return &sip.ContactHeader{Address: *ua.contact.Clone()}
}

// renew gives a request a new branch and CSeq number, for resending it with
// credentials (RFC 3261 §22.2: "a new request ... with the same Call-ID and a CSeq
// incremented").
func (ua *UA) renew(req *sip.Request, cseq uint32) *sip.Request {
	out := req.Clone()
	out.RemoveHeader("Via")
	out.PrependHeader(ua.newVia())
	out.ReplaceHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: req.Method})
	return out
}

// authorize adds credentials answering the challenges of res (401 or 407) to req,
// replacing any it had: Authorization for WWW-Authenticate, Proxy-Authorization for
// Proxy-Authenticate (RFC 3261 §22.2, §22.3), computed by package auth's digest client.
// It reports false when res holds no challenge this UA can answer, or only ones for
// realms already answered without stale=true (the credentials are wrong). tried records
// the realms answered for this request.
func (ua *UA) authorize(req *sip.Request, res *sip.Response, tried map[string]bool) bool {
	type cred struct{ name, value string }
	var creds []cred
	for _, name := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
		for _, h := range res.GetHeaders(name) {
			ch := h.Value()
			_, params, err := auth.ParseParams(ch)
			if err != nil {
				continue
			}
			realm := name + "|" + params["realm"]
			if tried[realm] && !auth.Stale(ch) {
				return false
			}
			ans, err := auth.Respond(ch, string(req.Method), req.Recipient.String(), ua.user, ua.cfg.Password)
			if err != nil {
				ua.log.Debug("challenge not answered", "error", err)
				continue
			}
			tried[realm] = true
			hdr := "Authorization"
			if name == "Proxy-Authenticate" {
				hdr = "Proxy-Authorization"
			}
			creds = append(creds, cred{hdr, ans.Authorization})
		}
	}
	if len(creds) == 0 {
		return false
	}
	req.RemoveHeader("Authorization")
	req.RemoveHeader("Proxy-Authorization")
	for _, c := range creds {
		req.AppendHeader(sip.NewHeader(c.name, c.value))
	}
	return true
}

// do sends a non-INVITE request and returns its final response, answering up to two
// rounds of 401/407 challenges (each a new request with the next CSeq). next returns
// the CSeq number for a resent request.
func (ua *UA) do(ctx context.Context, req *sip.Request, next func() uint32) (*sip.Response, error) {
	tried := map[string]bool{}
	for round := 0; ; round++ {
		tx, err := ua.start(req)
		if err != nil {
			return nil, err
		}
		res, err := ua.waitCtx(ctx, tx, nil)
		if err != nil {
			return nil, err
		}
		if (res.StatusCode == 401 || res.StatusCode == 407) && round < 3 {
			retry := ua.renew(req, next())
			if ua.authorize(retry, res, tried) {
				req = retry
				continue
			}
		}
		return res, nil
	}
}

// waitCtx is tx.wait bounded by ctx (the transaction itself goes on to its end).
func (ua *UA) waitCtx(ctx context.Context, tx *clientTx, onProvisional func(*sip.Response)) (*sip.Response, error) {
	type result struct {
		res *sip.Response
		err error
	}
	ch := make(chan result, 1)
	go func() {
		res, err := tx.wait(onProvisional)
		ch <- result{res, err}
	}()
	select {
	case r := <-ch:
		return r.res, r.err
	case <-ctx.Done():
		tx.fail(ctx.Err())
		r := <-ch
		if r.err == nil {
			return r.res, nil
		}
		return nil, ctx.Err()
	}
}

// StatusError is a final response other than 2xx to a request of this UA.
type StatusError struct {
	Code   int
	Reason string
}

func (e *StatusError) Error() string { return fmt.Sprintf("sipua: %d %s", e.Code, e.Reason) }

func statusError(res *sip.Response) error {
	return &StatusError{Code: res.StatusCode, Reason: res.Reason}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newTag returns a tag with 64 random bits (RFC 3261 §19.3 asks for at least 32).
func newTag() string { return randHex(8) }

func toTag(m sip.Message) string {
	var to *sip.ToHeader
	switch m := m.(type) {
	case *sip.Request:
		to = m.To()
	case *sip.Response:
		to = m.To()
	}
	if to == nil {
		return ""
	}
	t, _ := to.Params.Get("tag")
	return t
}

func fromTag(m sip.Message) string {
	var from *sip.FromHeader
	switch m := m.(type) {
	case *sip.Request:
		from = m.From()
	case *sip.Response:
		from = m.From()
	}
	if from == nil {
		return ""
	}
	t, _ := from.Params.Get("tag")
	return t
}

func itoa(n int) string { return strconv.Itoa(n) }
