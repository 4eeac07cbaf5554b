package sipedge

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo/sip"
)

// WebSocket liveness: the edge pings every browser connection and drops one
// that does not answer (RFC 6455 §5.5.2).
const (
	pingInterval = 30 * time.Second
	pingTimeout  = 20 * time.Second
	// firstReadTimeout is how long an accepted TCP/TLS connection may stay
	// silent (including the TLS handshake) before it is dropped.
	firstReadTimeout = time.Minute
)

type remoteAddrKey struct{}

// WithRemoteAddr returns a copy of ctx carrying the address of the peer of a
// WebSocket connection (e.g. http.Request.RemoteAddr), which ServeWebSocket
// uses in logs. It is optional; the edge never routes by it.
func WithRemoteAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteAddrKey{}, addr)
}

// ServeWebSocket runs one browser connection whose handshake the gateway has
// completed with subprotocol "sip" (RFC 7118 §4.1) and an allowed Origin. It
// reads one SIP message per WebSocket message, text or binary (RFC 7118 §4.2,
// §5), answers "\r\n\r\n" keepalives with "\r\n" (RFC 5626 §4.4.1), pings the
// browser, and returns when the connection closes or the Edge is closed.
func (e *Edge) ServeWebSocket(ctx context.Context, c *websocket.Conn) {
	c.SetReadLimit(maxMessageSize)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	remote, _ := ctx.Value(remoteAddrKey{}).(string)
	f := &flow{
		e:         e,
		transport: "WS",
		token:     newToken(),
		remote:    remote,
		out:       make(chan []byte, sendQueue),
		done:      make(chan struct{}),
	}
	f.closeFn = func(reason string) {
		code := websocket.StatusNormalClosure
		switch reason {
		case "edge closing":
			code = websocket.StatusGoingAway
		case "send queue full":
			code = websocket.StatusTryAgainLater
		}
		if len(reason) > 120 {
			reason = reason[:120]
		}
		go func() {
			c.Close(code, reason)
			cancel()
		}()
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		c.Close(websocket.StatusGoingAway, "edge closing")
		return
	}
	e.flows[f.token] = f
	e.mu.Unlock()
	defer f.close("connection ended")

	go f.writeLoop(func(b []byte) error {
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		defer cancel()
		typ := websocket.MessageText
		if !utf8.Valid(b) {
			typ = websocket.MessageBinary // RFC 7118 §4.2
		}
		return c.Write(wctx, typ, b)
	})
	go e.pingLoop(ctx, f, c)

	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		e.guard(f, func() { e.receivePacket(f, data) })
	}
}

func (e *Edge) pingLoop(ctx context.Context, f *flow, c *websocket.Conn) {
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.done:
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, pingTimeout)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				f.close("ping: " + err.Error())
				return
			}
		}
	}
}

// isKeepalive reports whether data holds only CR and LF: RFC 5626 §3.5.1
// keepalives, which are not SIP messages.
func isKeepalive(data []byte) bool {
	return len(data) > 0 && len(bytes.Trim(data, "\r\n")) == 0
}

// receivePacket handles one WebSocket message or UDP datagram, which must
// hold exactly one SIP message (RFC 7118 §5, RFC 3261 §18.3).
func (e *Edge) receivePacket(f *flow, data []byte) {
	if isKeepalive(data) {
		if !f.isUDP() && bytes.Contains(data, []byte("\r\n\r\n")) {
			f.send([]byte("\r\n"))
		}
		return
	}
	msg, n, err := e.parser.Parse(data, false)
	switch {
	case err == nil && len(bytes.Trim(data[n:], "\r\n")) > 0:
		// The headers parsed: the request can be answered.
		if f.isWS() {
			err = errors.New("more than one SIP message in one WebSocket message (RFC 7118 5)")
		} else {
			err = errors.New("bytes after the end of the message")
		}
		e.rejectMalformed(f, msg, err)
		return
	case errors.Is(err, sip.ErrParseReadBodyIncomplete):
		e.rejectMalformed(f, msg, errors.New("body shorter than Content-Length"))
		return
	case err != nil:
		// A header did not parse; the request is answered if the headers a
		// response needs did (rejectMalformed checks), else dropped.
		e.rejectMalformed(f, msg, err)
		return
	}
	e.receive(f, msg)
}

// receive dispatches a parsed message from flow f.
func (e *Edge) receive(f *flow, msg sip.Message) {
	switch m := msg.(type) {
	case *sip.Request:
		m.SetTransport(f.transport)
		m.SetSource(f.remote)
		e.handleRequest(f, m)
	case *sip.Response:
		e.handleResponse(f, m)
	}
}

// rejectMalformed answers a request that failed to parse with 400 when
// enough of it parsed to build a response (RFC 3261 §16.3, §21.4.1), and
// drops anything else.
func (e *Edge) rejectMalformed(f *flow, msg sip.Message, cause error) {
	e.log.Debug("malformed SIP message", "transport", f.transport, "remote", f.remote, "error", cause)
	req, ok := msg.(*sip.Request)
	if !ok || req == nil || req.IsAck() || !answerable(req) {
		return
	}
	res := newResponse(req, 400, reasonPhrase("Bad Request: "+cause.Error()))
	if ensureContentLength(res); roundTrips(res) {
		f.responseFlow(req).WriteMsg(res)
	}
}

// readStream reads a TCP or TLS connection: SIP messages framed by
// Content-Length (RFC 3261 §7.5, §18.3), CRLF keepalives in between
// (RFC 5626 §3.5.1). Every double-CRLF ping between messages is answered
// with a CRLF pong (RFC 5626 §4.4.1), also one that arrives in the same read
// as the end of a message. A framing error closes the connection, since no
// message boundary is left to resynchronise on.
func (e *Edge) readStream(f *flow, c net.Conn) {
	defer f.close("connection ended")
	ps := e.parser.NewSIPStream()
	defer ps.Close()
	buf := make([]byte, 32*1024)
	// atBoundary: the parser holds no part of a message, so CR and LF at
	// the start of its buffer are keepalives.
	atBoundary := true
	deadline := firstReadTimeout
	if f.poolKey != "" {
		deadline = streamIdleTimeout
	}
	for {
		c.SetReadDeadline(time.Now().Add(deadline))
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		deadline = streamIdleTimeout
		ps.Write(buf[:n])
		for {
			if atBoundary && !skipKeepalives(f, ps) {
				break
			}
			var m sip.Message
			consumed, err := 0, errParserPanic
			e.guard(f, func() { m, consumed, err = ps.ParseNext() })
			if err == nil {
				atBoundary = true
				e.guard(f, func() { e.receive(f, m) })
				continue
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				atBoundary = consumed == 0
				break
			}
			e.log.Debug("SIP stream framing error", "transport", f.transport, "remote", f.remote, "error", err)
			return
		}
	}
}

// skipKeepalives removes the CR and LF bytes at the start of a stream
// parser's buffer, which is at a message boundary, answering a double-CRLF
// ping among them with a CRLF pong (RFC 5626 §4.4.1). When the buffer holds
// nothing else and no ping yet, its last 3 bytes are kept: they may start a
// ping that the next read completes. It reports whether the buffer holds
// the start of a message.
func skipKeepalives(f *flow, ps *sip.ParserStream) bool {
	b := ps.Buffer().Bytes()
	k := 0
	for k < len(b) && (b[k] == '\r' || b[k] == '\n') {
		k++
	}
	switch {
	case k == 0:
	case bytes.Contains(b[:k], []byte("\r\n\r\n")):
		f.send([]byte("\r\n"))
		ps.Discard(k)
	case k == len(b):
		ps.Discard(max(k-3, 0))
		return false
	default:
		ps.Discard(k)
	}
	return ps.Buffer().Len() > 0
}

// readUDP reads datagrams from s until it is closed.
func (e *Edge) readUDP(s *udpSocket) error {
	buf := make([]byte, maxMessageSize+1)
	for {
		n, addr, err := s.pc.ReadFrom(buf)
		if err != nil {
			if e.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		ua, ok := addr.(*net.UDPAddr)
		if !ok || n > maxMessageSize {
			continue
		}
		f := &flow{e: e, transport: "UDP", udp: s, uaddr: ua, remote: ua.String()}
		data := bytes.Clone(buf[:n])
		e.guard(f, func() { e.receivePacket(f, data) })
	}
}

// newStreamFlow makes a flow for a TCP or TLS connection and starts its
// writer. An accepted connection gets a flow token; a dialled one is put in
// the connection pool under poolKey. It returns nil when the Edge is closed.
func (e *Edge) newStreamFlow(transport string, c net.Conn, dialled bool, poolKey ...string) *flow {
	f := &flow{
		e:         e,
		transport: transport,
		remote:    c.RemoteAddr().String(),
		local:     c.LocalAddr(),
		out:       make(chan []byte, sendQueue),
		done:      make(chan struct{}),
		closeFn:   func(string) { c.Close() },
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	if dialled {
		f.poolKey = poolKey[0]
		e.pool[f.poolKey] = f
	} else {
		f.token = newToken()
		e.flows[f.token] = f
	}
	e.mu.Unlock()
	go f.writeLoop(func(b []byte) error {
		c.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := c.Write(b)
		return err
	})
	return f
}

// responseFlow returns where responses to req, received on f, go: the
// connection itself, or for UDP the source address with the rport (RFC 3581
// §4) or else the Via port (RFC 3261 §18.2.2).
func (f *flow) responseFlow(req *sip.Request) *flow {
	if f.udp == nil {
		return f
	}
	via := req.Via()
	if via == nil {
		return f
	}
	if _, ok := via.Params.Get("rport"); ok {
		return f
	}
	port := via.Port
	if port == 0 {
		port = sip.DefaultUdpPort
	}
	if port == f.uaddr.Port {
		return f
	}
	ua := &net.UDPAddr{IP: f.uaddr.IP, Port: port, Zone: f.uaddr.Zone}
	return &flow{e: f.e, transport: "UDP", udp: f.udp, uaddr: ua, remote: ua.String()}
}

// nextHop is where a request goes when it is not routed by flow token: a
// transport and a host (RFC 3263 §4.1 for numeric hosts and explicit
// transports).
type nextHop struct {
	transport string // "UDP", "TCP" or "TLS"
	host      string // as in the URI, without IPv6 brackets
	port      int    // never 0
}

var errUnroutable = errors.New("URI host cannot be dialled")

// errParserPanic is the framing error of a stream whose parser panicked.
var errParserPanic = errors.New("sipedge: stream parser failed")

// hopFromURI derives the next hop of a SIP or SIPS URI: the transport
// parameter (udp by default, tls for sips), the host and the port (5060, or
// 5061 for TLS). WebSocket and ".invalid" URIs are not dialled (RFC 7118 §5).
func hopFromURI(u *sip.Uri) (*nextHop, error) {
	if u.Scheme != "sip" && u.Scheme != "sips" && u.Scheme != "" {
		return nil, fmt.Errorf("%w: scheme %q", errUnroutable, u.Scheme)
	}
	host := strings.Trim(u.Host, "[]")
	if host == "" || strings.HasSuffix(strings.ToLower(host), ".invalid") {
		return nil, fmt.Errorf("%w: host %q", errUnroutable, u.Host)
	}
	tp := "UDP"
	if v, ok := u.UriParams.Get("transport"); ok {
		switch strings.ToLower(v) {
		case "udp":
		case "tcp":
			tp = "TCP"
		case "tls":
			tp = "TLS"
		default:
			return nil, fmt.Errorf("%w: transport %q", errUnroutable, v)
		}
	}
	if u.Scheme == "sips" {
		tp = "TLS"
	}
	port := u.Port
	if port == 0 {
		port = sip.DefaultUdpPort
		if tp == "TLS" {
			port = sip.DefaultTlsPort
		}
	}
	return &nextHop{transport: tp, host: host, port: port}, nil
}

func parseNextHop(s string) (*nextHop, error) {
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		return nil, err
	}
	return hopFromURI(&u)
}

// resolve returns the hop's address "ip:port": a numeric host as is, a name
// through an A/AAAA lookup (IPv4 preferred). NAPTR and SRV (RFC 3263 §4.1,
// §4.2) are not done.
func (e *Edge) resolve(h *nextHop) (netip.AddrPort, error) {
	if ip, err := netip.ParseAddr(h.host); err == nil {
		return netip.AddrPortFrom(ip.Unmap(), uint16(h.port)), nil
	}
	ctx, cancel := context.WithTimeout(e.ctx, dialTimeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", h.host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("resolve %q: %v", h.host, err)
	}
	best := ips[0]
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			best = ip
			break
		}
	}
	return netip.AddrPortFrom(best.Unmap(), uint16(h.port)), nil
}

// flowTo returns a flow to the hop, dialling a TCP or TLS connection when the
// pool has none. It may block for up to dialTimeout.
func (e *Edge) flowTo(h *nextHop) (*flow, error) {
	if e.hopFilter != nil {
		if err := e.hopFilter(h); err != nil {
			return nil, err
		}
	}
	ap, err := e.resolve(h)
	if err != nil {
		return nil, err
	}
	addr := ap.String()
	if h.transport == "UDP" {
		s, err := e.udpOut()
		if err != nil {
			return nil, err
		}
		ua := net.UDPAddrFromAddrPort(ap)
		return &flow{e: e, transport: "UDP", udp: s, uaddr: ua, remote: ua.String()}, nil
	}
	return e.dial(h.transport, addr, h.host)
}

// pooled returns the existing flow to the hop, if any, without dialling.
func (e *Edge) pooled(h *nextHop) *flow {
	if h.transport == "UDP" {
		return nil
	}
	ip, err := netip.ParseAddr(h.host)
	if err != nil {
		return nil
	}
	key := h.transport + "|" + netip.AddrPortFrom(ip.Unmap(), uint16(h.port)).String()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pool[key]
}

// dialCall is a dial in progress, shared by concurrent callers.
type dialCall struct {
	done chan struct{}
	f    *flow
	err  error
}

// dial returns the pooled connection to addr or dials one; concurrent calls
// for the same address share one dial.
func (e *Edge) dial(transport, addr, host string) (*flow, error) {
	key := transport + "|" + addr
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, errFlowClosed
	}
	if f := e.pool[key]; f != nil {
		e.mu.Unlock()
		return f, nil
	}
	if c := e.dialing[key]; c != nil {
		e.mu.Unlock()
		<-c.done
		return c.f, c.err
	}
	call := &dialCall{done: make(chan struct{})}
	e.dialing[key] = call
	e.mu.Unlock()

	ctx, cancel := context.WithTimeout(e.ctx, dialTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err == nil && transport == "TLS" {
		cfg := &tls.Config{}
		if e.tlsConfig != nil {
			cfg = e.tlsConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		tc := tls.Client(conn, cfg)
		if err = tc.HandshakeContext(ctx); err != nil {
			conn.Close()
		}
		conn = tc
	}
	var f *flow
	if err == nil {
		if f = e.newStreamFlow(transport, conn, true, key); f == nil {
			conn.Close()
			err = errFlowClosed
		} else {
			go e.readStream(f, conn)
		}
	}
	e.mu.Lock()
	delete(e.dialing, key)
	e.mu.Unlock()
	call.f, call.err = f, err
	close(call.done)
	return f, err
}

// udpOut returns the socket requests to UDP next hops are sent from: the
// first one served, or else one the edge opens on an ephemeral port.
func (e *Edge) udpOut() (*udpSocket, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errFlowClosed
	}
	if len(e.udp) > 0 {
		return e.udp[0], nil
	}
	pc, err := net.ListenPacket("udp", ":0")
	if err != nil {
		return nil, err
	}
	s := &udpSocket{pc: pc}
	e.udp = append(e.udp, s)
	go e.readUDP(s)
	return s, nil
}

// sentBy returns the host:port the edge names itself with toward f (Via
// sent-by, Record-Route, Path): the domain for WebSocket peers, else the
// listener for f's transport, else the flow's local address; an unspecified
// IP is replaced by the local address used to reach the peer.
func (e *Edge) sentBy(f *flow) (string, int) {
	if f.isWS() {
		return e.domain, 0
	}
	var a net.Addr
	if f.isUDP() {
		a = f.udp.pc.LocalAddr()
	} else if a = e.listenAddr(f.transport); a == nil {
		a = f.local
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		host, port, _ := net.SplitHostPort(a.String())
		p, _ := strconv.Atoi(port)
		return host, p
	}
	ip := ap.Addr().Unmap()
	if ip.IsUnspecified() {
		ip = localIPToward(f)
	}
	return ip.String(), int(ap.Port())
}

// localIPToward returns the local IP address the system would use to reach
// f's peer (a connected UDP socket sends nothing).
func localIPToward(f *flow) netip.Addr {
	remote := f.remote
	if remote == "" {
		return netip.MustParseAddr("127.0.0.1")
	}
	c, err := net.Dial("udp", remote)
	if err != nil {
		return netip.MustParseAddr("127.0.0.1")
	}
	defer c.Close()
	ap, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return netip.MustParseAddr("127.0.0.1")
	}
	return ap.Addr().Unmap()
}

// guard runs the handling of one message from f so that a bug met while handling it costs
// that connection, never the gateway: a panic is logged with its stack and the flow is closed
// (a UDP datagram is just dropped).
func (e *Edge) guard(f *flow, handle func()) {
	defer func() {
		if v := recover(); v != nil {
			e.log.Error("SIP edge: panic while handling a message; connection dropped",
				"transport", f.transport, "remote", f.remote, "panic", v, "stack", string(debug.Stack()))
			if !f.isUDP() {
				f.close("internal error")
			}
		}
	}()
	handle()
}

// goSafe runs fn on a new goroutine under recovered.
func (e *Edge) goSafe(what string, fn func()) {
	go e.recovered(what, fn)
}

// afterFunc is time.AfterFunc with f run under recovered.
func (e *Edge) afterFunc(d time.Duration, what string, f func()) *time.Timer {
	return time.AfterFunc(d, func() { e.recovered(what, f) })
}

// recovered runs fn so that a bug met in it is logged with its stack instead
// of ending the process: every goroutine and timer callback the edge starts
// outside a connection's reader (which guard covers) runs this way.
func (e *Edge) recovered(what string, fn func()) {
	defer func() {
		if v := recover(); v != nil {
			e.log.Error("SIP edge: panic recovered", "in", what, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	fn()
}
