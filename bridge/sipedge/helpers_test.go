package sipedge

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo/sip"
	"github.com/simplegw/simplegw/bridge/auth"
)

func TestMain(m *testing.M) {
	// Short lifetimes so that expiry can be observed (RFC 3903 §6 allows a
	// registrar-chosen minimum).
	minExpires = 1
	os.Exit(m.Run())
}

// waitFor bounds every wait for a message: a deadlock guard, not a speed
// assertion.
const waitFor = 15 * time.Second

// harness is an Edge listening on 127.0.0.1 UDP, TCP and an httptest
// WebSocket server.
type harness struct {
	t      *testing.T
	e      *Edge
	srv    *httptest.Server
	udp    net.PacketConn
	tcp    net.Listener
	users  map[string]string
	digest *auth.Digest
}

type harnessOpt func(*Config)

func withUpstream(u string) harnessOpt { return func(c *Config) { c.Upstream = u } }
func withoutAuth() harnessOpt          { return func(c *Config) { c.Digest = nil } }

// withHopFilter installs a next-hop filter before the edge starts serving.
func withHopFilter(f func(*nextHop) error) harnessOpt { return func(c *Config) { c.hopFilter = f } }

func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	h := &harness{t: t, users: map[string]string{
		"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw", "dave": "dave-pw",
	}}
	store := auth.NewStore(auth.StoreConfig{Users: h.users, Secret: []byte("test-secret")})
	h.digest = auth.NewDigest("localhost", store)
	cfg := Config{Domain: "localhost", Digest: h.digest}
	if os.Getenv("SIPEDGE_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for _, o := range opts {
		o(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	if h.udp, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if h.tcp, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); e.ServeUDP(h.udp) }()
	go func() { defer wg.Done(); e.ServeTCP(h.tcp) }()
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"sip"}})
		if err != nil {
			return
		}
		if c.Subprotocol() != "sip" {
			c.Close(websocket.StatusPolicyViolation, "subprotocol sip required")
			return
		}
		e.ServeWebSocket(WithRemoteAddr(r.Context(), r.RemoteAddr), c)
	}))
	t.Cleanup(func() {
		e.Close()
		h.srv.Close()
		wg.Wait()
	})
	return h
}

func (h *harness) udpAddr() string { return h.udp.LocalAddr().String() }
func (h *harness) tcpAddr() string { return h.tcp.Addr().String() }

// peer is a test SIP user agent on one transport; it sends raw SIP text and
// receives parsed messages in arrival order.
type peer struct {
	t         *testing.T
	name      string
	transport string // "WS", "UDP", "TCP"
	viaHost   string // sent-by
	contact   string // Contact URI
	msgs      chan sip.Message
	raw       chan []byte   // WebSocket messages / UDP datagrams as received
	gone      chan struct{} // closed when the peer's connection is closed
	sendRaw   func([]byte) error
	closeFn   func()
	mu        sync.Mutex
	cseq      int
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// dialWS connects a browser-like peer to the harness's WebSocket server.
func (h *harness) dialWS(name string) *peer {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	url := "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/sip"
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		cancel()
		h.t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	host := randHex(6) + ".invalid"
	p := &peer{
		t: h.t, name: name, transport: "WS", viaHost: host,
		contact: "sip:" + name + "-" + randHex(3) + "@" + host + ";transport=ws",
		msgs:    make(chan sip.Message, 8192),
		raw:     make(chan []byte, 8192),
	}
	p.sendRaw = func(b []byte) error {
		wctx, wcancel := context.WithTimeout(ctx, waitFor)
		defer wcancel()
		return c.Write(wctx, websocket.MessageText, b)
	}
	done := make(chan struct{})
	p.gone = done
	p.closeFn = func() {
		c.Close(websocket.StatusNormalClosure, "")
		cancel()
		<-done
	}
	go func() {
		defer close(done)
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			p.deliver(data)
		}
	}()
	h.t.Cleanup(p.close)
	return p
}

// dialUDP makes a UDP peer talking to the harness's UDP socket.
func (h *harness) dialUDP(name string) *peer {
	h.t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	edge, _ := net.ResolveUDPAddr("udp", h.udpAddr())
	return h.udpPeer(name, pc, edge)
}

func (h *harness) udpPeer(name string, pc net.PacketConn, dst net.Addr) *peer {
	addr := pc.LocalAddr().String()
	p := &peer{
		t: h.t, name: name, transport: "UDP", viaHost: addr,
		contact: "sip:" + name + "@" + addr,
		msgs:    make(chan sip.Message, 8192),
		raw:     make(chan []byte, 8192),
	}
	p.sendRaw = func(b []byte) error { _, err := pc.WriteTo(b, dst); return err }
	done := make(chan struct{})
	p.closeFn = func() { pc.Close(); <-done }
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			p.deliver(bytes.Clone(buf[:n]))
		}
	}()
	h.t.Cleanup(p.close)
	return p
}

// dialTCP makes a TCP peer connected to the harness's TCP listener.
func (h *harness) dialTCP(name string) *peer {
	h.t.Helper()
	c, err := net.Dial("tcp", h.tcpAddr())
	if err != nil {
		h.t.Fatal(err)
	}
	return h.streamPeer(name, c)
}

func (h *harness) streamPeer(name string, c net.Conn) *peer {
	addr := c.LocalAddr().String()
	tp := "TCP"
	if _, ok := c.(*tls.Conn); ok {
		tp = "TLS"
	}
	p := &peer{
		t: h.t, name: name, transport: tp, viaHost: addr,
		contact: "sip:" + name + "@" + addr + ";transport=" + strings.ToLower(tp),
		msgs:    make(chan sip.Message, 8192),
		raw:     make(chan []byte, 8192),
	}
	var wmu sync.Mutex
	p.sendRaw = func(b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := c.Write(b)
		return err
	}
	done := make(chan struct{})
	p.closeFn = func() { c.Close(); <-done }
	go func() {
		defer close(done)
		ps := sip.NewParser().NewSIPStream()
		buf := make([]byte, 65536)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			p.raw <- bytes.Clone(buf[:n])
			if err := ps.ParseSIPStream(buf[:n], func(m sip.Message) { p.msgs <- m }); err != nil && err != sip.ErrParseSipPartial {
				return
			}
		}
	}()
	h.t.Cleanup(p.close)
	return p
}

func (p *peer) deliver(data []byte) {
	p.raw <- data
	if isKeepalive(data) {
		return
	}
	m, err := sip.ParseMessage(data)
	if err != nil {
		p.t.Errorf("%s received unparseable message: %v\n%s", p.name, err, data)
		return
	}
	p.msgs <- m
}

func (p *peer) close() {
	p.mu.Lock()
	fn := p.closeFn
	p.closeFn = nil
	p.mu.Unlock()
	if fn != nil {
		fn()
	}
}

func (p *peer) send(s string) {
	p.t.Helper()
	if err := p.sendRaw([]byte(s)); err != nil {
		p.t.Fatalf("%s send: %v", p.name, err)
	}
}

// next returns the next message the peer received.
func (p *peer) next() sip.Message {
	p.t.Helper()
	select {
	case m := <-p.msgs:
		return m
	case <-time.After(waitFor):
		p.t.Fatalf("%s: no message within %v", p.name, waitFor)
		return nil
	}
}

// nextRaw returns the next raw WebSocket message, datagram or TCP read.
func (p *peer) nextRaw() []byte {
	p.t.Helper()
	select {
	case b := <-p.raw:
		return b
	case <-time.After(waitFor):
		p.t.Fatalf("%s: nothing received within %v", p.name, waitFor)
		return nil
	}
}

// nothing reports whether no message is queued (after the caller made sure
// the edge has processed what would have produced one).
func (p *peer) nothing() bool { return len(p.msgs) == 0 }

// response returns the next response, skipping 100 Trying.
func (p *peer) response() *sip.Response {
	p.t.Helper()
	for {
		m := p.next()
		res, ok := m.(*sip.Response)
		if !ok {
			p.t.Fatalf("%s: expected a response, got %s", p.name, m.(*sip.Request).StartLine())
		}
		if res.StatusCode == 100 {
			continue
		}
		return res
	}
}

// expectResponse waits for a response with the given status.
func (p *peer) expectResponse(code int) *sip.Response {
	p.t.Helper()
	res := p.response()
	if res.StatusCode != code {
		p.t.Fatalf("%s: got %d %s, want %d\n%s", p.name, res.StatusCode, res.Reason, code, res)
	}
	return res
}

// request returns the next request.
func (p *peer) request() *sip.Request {
	p.t.Helper()
	m := p.next()
	req, ok := m.(*sip.Request)
	if !ok {
		p.t.Fatalf("%s: expected a request, got %s", p.name, m.(*sip.Response).StartLine())
	}
	return req
}

func (p *peer) expectRequest(method sip.RequestMethod) *sip.Request {
	p.t.Helper()
	req := p.request()
	if req.Method != method {
		p.t.Fatalf("%s: got %s, want %s", p.name, req.Method, method)
	}
	return req
}

// out is a request a peer sends.
type out struct {
	Method  string
	URI     string
	Via     string
	From    string
	To      string
	CallID  string
	CSeq    int
	Headers []string
	Body    string
}

func (o *out) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", o.Method, o.URI)
	fmt.Fprintf(&b, "Via: %s\r\nMax-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n",
		o.Via, o.From, o.To, o.CallID, o.CSeq, o.Method)
	for _, h := range o.Headers {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(o.Body), o.Body)
	return b.String()
}

func (p *peer) via() string {
	v := "SIP/2.0/" + p.transport + " " + p.viaHost + ";branch=z9hG4bK" + randHex(8)
	if p.transport == "UDP" {
		v += ";rport"
	}
	return v
}

// newRequest makes an out-of-dialog request from the peer's AOR.
func (p *peer) newRequest(method, uri string) *out {
	p.mu.Lock()
	p.cseq++
	n := p.cseq
	p.mu.Unlock()
	to := uri
	if i := strings.IndexByte(to, ';'); i > 0 {
		to = to[:i]
	}
	return &out{
		Method: method, URI: uri, Via: p.via(),
		From:    "<sip:" + p.name + "@localhost>;tag=" + randHex(4),
		To:      "<" + to + ">",
		CallID:  randHex(10),
		CSeq:    n,
		Headers: []string{"Contact: <" + p.contact + ">"},
	}
}

// reply sends a response to req, copying Via, Record-Route (1xx/2xx), From,
// To (with toTag), Call-ID and CSeq.
func (p *peer) reply(req *sip.Request, code int, reason, toTag string, headers []string, body string) {
	p.t.Helper()
	p.send(replyText(req, code, reason, toTag, headers, body))
}

// replyText renders the response reply sends.
func replyText(req *sip.Request, code int, reason, toTag string, headers []string, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	for _, v := range req.GetHeaders("Via") {
		b.WriteString("Via: " + v.Value() + "\r\n")
	}
	if code > 100 && code < 300 {
		for _, rr := range req.GetHeaders("Record-Route") {
			b.WriteString("Record-Route: " + rr.Value() + "\r\n")
		}
	}
	b.WriteString("From: " + req.From().Value() + "\r\n")
	to := req.To().Value()
	if toTag != "" && !req.To().Params.Has("tag") {
		to += ";tag=" + toTag
	}
	b.WriteString("To: " + to + "\r\n")
	b.WriteString("Call-ID: " + req.CallID().Value() + "\r\n")
	b.WriteString("CSeq: " + req.CSeq().Value() + "\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

// register registers the peer's contact for user with password, answering
// the digest challenge; it returns the 200.
func (p *peer) register(user, password string, expires int) *sip.Response {
	p.t.Helper()
	o := p.newRequest("REGISTER", "sip:localhost")
	o.From = "<sip:" + user + "@localhost>;tag=" + randHex(4)
	o.To = "<sip:" + user + "@localhost>"
	o.Headers = []string{fmt.Sprintf("Contact: <%s>;expires=%d", p.contact, expires)}
	p.send(o.String())
	res := p.response()
	if res.StatusCode == 200 {
		return res
	}
	if res.StatusCode != 401 {
		p.t.Fatalf("REGISTER: got %d %s", res.StatusCode, res.Reason)
	}
	o.CSeq++
	o.Via = p.via()
	o.Headers = append(o.Headers, "Authorization: "+digestResponse(p.t, headerValue(res, "WWW-Authenticate"), user, password, "REGISTER", "sip:localhost"))
	p.send(o.String())
	return p.expectResponse(200)
}

// digestResponse answers an RFC 2617 challenge (qop=auth, MD5).
func digestResponse(t *testing.T, challenge, user, password, method, uri string) string {
	t.Helper()
	a, err := auth.Respond(challenge, method, uri, user, password)
	if err != nil {
		t.Fatalf("challenge %q: %v", challenge, err)
	}
	return a.Authorization
}

// dialog is one side of a dialog as a test UA tracks it (RFC 3261 §12).
type dialog struct {
	p         *peer
	callID    string
	localURI  string // with tag
	remoteURI string // with tag
	target    string // remote target
	routes    []string
	cseq      int
}

// callerDialog builds the caller's dialog from its INVITE and the 2xx.
func callerDialog(p *peer, inv *out, res *sip.Response) *dialog {
	d := &dialog{p: p, callID: inv.CallID, localURI: inv.From, remoteURI: res.To().Value(), cseq: inv.CSeq}
	d.target = res.Contact().Address.String()
	rrs := res.GetHeaders("Record-Route")
	for i := len(rrs) - 1; i >= 0; i-- {
		d.routes = append(d.routes, rrs[i].Value())
	}
	return d
}

// calleeDialog builds the callee's dialog from the INVITE it got.
func calleeDialog(p *peer, req *sip.Request, toTag string) *dialog {
	d := &dialog{p: p, callID: req.CallID().Value(), localURI: req.To().Value() + ";tag=" + toTag,
		remoteURI: req.From().Value(), cseq: 100}
	d.target = req.Contact().Address.String()
	for _, rr := range req.GetHeaders("Record-Route") {
		d.routes = append(d.routes, rr.Value())
	}
	return d
}

// request makes an in-dialog request; ACK reuses the INVITE's CSeq number.
func (d *dialog) request(method string) *out {
	if method != "ACK" {
		d.cseq++
	}
	o := &out{Method: method, URI: d.target, Via: d.p.via(), From: d.localURI, To: d.remoteURI,
		CallID: d.callID, CSeq: d.cseq, Headers: []string{"Contact: <" + d.p.contact + ">"}}
	for _, r := range d.routes {
		o.Headers = append(o.Headers, "Route: "+r)
	}
	return o
}

const msrpOffer = "v=0\r\no=- 1 1 IN IP4 a.invalid\r\ns=-\r\nc=IN IP4 a.invalid\r\nt=0 0\r\n" +
	"m=message 9 TCP/TLS/MSRP *\r\na=accept-types:text/plain message/cpim\r\n" +
	"a=path:msrps://a.invalid:9/offer1;ws\r\na=setup:active\r\n"

const msrpAnswer = "v=0\r\no=- 2 2 IN IP4 b.invalid\r\ns=-\r\nc=IN IP4 b.invalid\r\nt=0 0\r\n" +
	"m=message 9 TCP/TLS/MSRP *\r\na=accept-types:text/plain\r\n" +
	"a=path:msrps://b.invalid:9/answer1;ws\r\na=setup:active\r\n"
