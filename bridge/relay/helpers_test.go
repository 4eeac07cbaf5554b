package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/simplegw/simplegw/bridge/auth"
	"github.com/simplegw/simplegw/bridge/msrp"
	"github.com/simplegw/simplegw/bridge/netbuf"
)

// testRelay is a relay on 127.0.0.1 with a TCP listener and a WebSocket endpoint.
type testRelay struct {
	*Relay
	tcp  net.Listener
	http *httptest.Server
}

func newTestRelay(t *testing.T, mod func(*Config)) *testRelay {
	t.Helper()
	store := auth.NewStore(auth.StoreConfig{Users: map[string]string{"alice": "secret", "bob": "secret", "carol": "secret"}})
	cfg := Config{Digest: auth.NewDigest("localhost", store), TransactionTimeout: 300 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go r.ServeTCP(ln)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// As the gateway serves /msrp: on a netbuf connection; "/plain" without one.
		if req.URL.Path == "/plain" {
			ws, err := websocket.Accept(w, req, &websocket.AcceptOptions{Subprotocols: []string{"msrp"}})
			if err == nil {
				r.ServeWebSocket(req.Context(), ws)
			}
			return
		}
		nw := netbuf.NewResponseWriter(w)
		ws, err := websocket.Accept(nw, req, &websocket.AcceptOptions{Subprotocols: []string{"msrp"}})
		if err != nil {
			return
		}
		r.ServeWebSocketConn(context.Background(), ws, nw.Conn(), func() {})
	}))
	tr := &testRelay{Relay: r, tcp: ln, http: srv}
	t.Cleanup(func() {
		r.Close()
		srv.Close()
	})
	// Wait until ServeTCP registered its listener, so Use-Path can name it.
	for i := 0; len(r.ListenerURIs()) == 0; i++ {
		if i > 1000 {
			t.Fatal("listener never registered")
		}
		time.Sleep(time.Millisecond)
	}
	return tr
}

// endpoint is a minimal MSRP endpoint for tests: it writes messages and reads them back
// whole (reassembling the pieces a stream reader hands out).
type endpoint struct {
	t    *testing.T
	name string
	self msrp.URI // the URI it puts in From-Path

	ws *websocket.Conn
	nc net.Conn
	rd *msrp.Reader

	mu  sync.Mutex
	inq chan *msrp.Message
	err error
}

func (tr *testRelay) dialWS(t *testing.T, name string) *endpoint {
	t.Helper()
	return tr.dialWSPath(t, name, "/")
}

// dialWSPath connects to path: "/" is served as the gateway serves /msrp, "/plain" without
// netbuf under the WebSocket.
func (tr *testRelay) dialWSPath(t *testing.T, name, path string) *endpoint {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(tr.http.URL, "http")+path, &websocket.DialOptions{Subprotocols: []string{"msrp"}})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(16 << 20)
	e := &endpoint{t: t, name: name, ws: ws, inq: make(chan *msrp.Message, 1024),
		self: mustURI(t, "msrp://"+name+"x.invalid:2855/"+msrp.NewIdent()+";ws")}
	go e.readLoop()
	t.Cleanup(func() { ws.CloseNow() })
	return e
}

func dialTCP(t *testing.T, addr, name string, self msrp.URI) *endpoint {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return streamEndpoint(t, nc, name, self)
}

func streamEndpoint(t *testing.T, nc net.Conn, name string, self msrp.URI) *endpoint {
	e := &endpoint{t: t, name: name, nc: nc, rd: msrp.NewReader(nc, 0, 0), inq: make(chan *msrp.Message, 1024), self: self}
	go e.readLoop()
	t.Cleanup(func() { nc.Close() })
	return e
}

// peer is a plain MSRP endpoint listening on TCP (RFC 4975), like msrpcat listen.
type peer struct {
	ln   net.Listener
	uri  msrp.URI
	acc  chan *endpoint
	t    *testing.T
	name string
}

func newPeer(t *testing.T, name string) *peer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{ln: ln, acc: make(chan *endpoint, 4), t: t, name: name,
		uri: mustURI(t, fmt.Sprintf("msrp://%s/%s;tcp", ln.Addr(), msrp.NewIdent()))}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			p.acc <- streamEndpoint(t, nc, name, p.uri)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return p
}

func (p *peer) accept() *endpoint {
	p.t.Helper()
	select {
	case e := <-p.acc:
		return e
	case <-time.After(5 * time.Second):
		p.t.Fatalf("%s: no connection arrived", p.name)
		return nil
	}
}

func (e *endpoint) readLoop() {
	defer close(e.inq)
	var cur *msrp.Message
	for {
		if e.ws != nil {
			_, b, err := e.ws.Read(context.Background())
			if err != nil {
				e.setErr(err)
				return
			}
			m, err := msrp.Parse(b)
			if err != nil {
				e.setErr(fmt.Errorf("%s received unparsable %q: %w", e.name, b, err))
				return
			}
			e.inq <- m
			continue
		}
		p, err := e.rd.Next()
		if err != nil {
			e.setErr(err)
			return
		}
		if cur == nil {
			c := *p.Message
			cur = &c
		}
		cur.Body = append(cur.Body, p.Body...)
		if p.Final {
			cur.Flag = p.Message.Flag
			e.inq <- cur
			cur = nil
		}
	}
}

func (e *endpoint) setErr(err error) {
	e.mu.Lock()
	e.err = err
	e.mu.Unlock()
}

func (e *endpoint) closeErr() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

func (e *endpoint) send(m *msrp.Message) {
	e.t.Helper()
	if m.TransactionID == "" {
		m.TransactionID = msrp.NewTransactionID(m.Body)
	}
	if len(m.FromPath) == 0 {
		m.FromPath = []msrp.URI{e.self}
	}
	e.write(m.Bytes())
}

func (e *endpoint) write(b []byte) {
	e.t.Helper()
	var err error
	if e.ws != nil {
		err = e.ws.Write(context.Background(), websocket.MessageBinary, b)
	} else {
		_, err = e.nc.Write(b)
	}
	if err != nil {
		e.t.Fatalf("%s: write: %v", e.name, err)
	}
}

func (e *endpoint) recv() *msrp.Message {
	e.t.Helper()
	select {
	case m, ok := <-e.inq:
		if !ok {
			e.t.Fatalf("%s: connection ended: %v", e.name, e.closeErr())
		}
		return m
	case <-time.After(5 * time.Second):
		e.t.Fatalf("%s: nothing received", e.name)
		return nil
	}
}

// expectNothing checks that no message arrives within d.
func (e *endpoint) expectNothing(d time.Duration) {
	e.t.Helper()
	select {
	case m, ok := <-e.inq:
		if ok {
			e.t.Fatalf("%s: unexpected message %q", e.name, m.Bytes())
		}
	case <-time.After(d):
	}
}

// respond answers a request with code.
func (e *endpoint) respond(req *msrp.Message, code int) {
	e.t.Helper()
	e.send(msrp.NewResponse(req, code, "", e.self))
}

// auth runs AUTH → 401 → AUTH with credentials (RFC 4976 §5.1) and returns the final
// response.
func (e *endpoint) auth(user, pass string, fields ...msrp.Field) *msrp.Message {
	e.t.Helper()
	relayURI := mustURI(e.t, "msrp://localhost:2855;tcp")
	e.send(&msrp.Message{Method: msrp.MethodAUTH, ToPath: []msrp.URI{relayURI}})
	ch := e.recv()
	if ch.Code != 401 {
		e.t.Fatalf("AUTH without credentials: %d, want 401", ch.Code)
	}
	wa, _ := ch.Get("WWW-Authenticate")
	a, err := auth.Respond(wa, msrp.MethodAUTH, relayURI.String(), user, pass)
	if err != nil {
		e.t.Fatal(err)
	}
	req := &msrp.Message{Method: msrp.MethodAUTH, ToPath: []msrp.URI{relayURI},
		Fields: append([]msrp.Field{{Name: "Authorization", Value: a.Authorization}}, fields...)}
	e.send(req)
	got := e.recv()
	if got.TransactionID != req.TransactionID {
		e.t.Fatalf("response tid %q, want %q", got.TransactionID, req.TransactionID)
	}
	return got
}

// bind authenticates and returns the relay URI from Use-Path.
func (e *endpoint) bind(user string) msrp.URI {
	e.t.Helper()
	resp := e.auth(user, "secret")
	if resp.Code != 200 {
		e.t.Fatalf("AUTH: %d %s", resp.Code, resp.Comment)
	}
	up, err := resp.UsePath()
	if err != nil || len(up) != 1 {
		e.t.Fatalf("Use-Path: %v %v", up, err)
	}
	return up[0]
}

func textSEND(to []msrp.URI, text string) *msrp.Message {
	n := int64(len(text))
	return &msrp.Message{Method: msrp.MethodSEND, ToPath: to, MessageID: msrp.NewIdent(),
		ByteRange: &msrp.ByteRange{Start: 1, End: n, Total: n}, ContentType: "text/plain",
		Body: []byte(text), HasBody: true, Flag: msrp.FlagEnd}
}

func mustURI(t testing.TB, s string) msrp.URI {
	t.Helper()
	u, err := msrp.ParseURI(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func paths(p []msrp.URI) string { return msrp.FormatPath(p) }

func expectClosed(t *testing.T, e *endpoint) error {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-e.inq:
			if !ok {
				return e.closeErr()
			}
		case <-deadline:
			t.Fatalf("%s: connection still open", e.name)
		}
	}
}

var _ = errors.Is
var _ = io.EOF
