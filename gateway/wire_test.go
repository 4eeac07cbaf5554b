package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/simplegw/simplegw/bridge/endpoint"
	"github.com/simplegw/simplegw/bridge/msrp"
)

// startReal starts a gateway with the real services of wire.go: a users
// file, realm example.test, every listener on 127.0.0.1 port 0.
func startReal(t *testing.T) *Gateway {
	t.Helper()
	users := filepath.Join(t.TempDir(), "users.txt")
	if err := os.WriteFile(users, []byte("alice:wonderland\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := validConfig()
	cfg.Domain = "example.test"
	cfg.UsersFile = users
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return g
}

// exchange sends one message on a new WebSocket of proto and returns the
// first message received.
func exchange(t *testing.T, g *Gateway, proto, msg string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+g.Addrs().HTTP+"/"+proto, &websocket.DialOptions{Subprotocols: []string{proto}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	_, got, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("/%s: no answer: %v", proto, err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	return string(got)
}

// TestWiredMSRPAuthChallenge: the relay behind /msrp challenges an AUTH
// without credentials (RFC 4976 §5.1) in the realm set by -domain.
func TestWiredMSRPAuthChallenge(t *testing.T) {
	g := startReal(t)
	// RFC 7977 §8.1.2, first AUTH, with this gateway's address.
	got := exchange(t, g, "msrp", "MSRP 49fh AUTH\r\n"+
		"To-Path: msrp://"+g.Addrs().HTTP+";ws\r\n"+
		"From-Path: msrp://df7jal23ls0d.invalid:2855/98cjs;ws\r\n"+
		"-------49fh$\r\n")
	if !strings.HasPrefix(got, "MSRP 49fh 401") || !strings.Contains(got, `realm="example.test"`) {
		t.Errorf("AUTH answered %q, want 401 with realm example.test", got)
	}
}

// TestWiredSIPRegisterChallenge: the SIP edge behind /sip (embedded
// registrar) challenges a REGISTER without credentials in the realm set by
// -domain (RFC 3261 §22.1).
func TestWiredSIPRegisterChallenge(t *testing.T) {
	g := startReal(t)
	// RFC 7118 §8.1, first REGISTER, over ws:// and in example.test.
	got := exchange(t, g, "sip", "REGISTER sip:example.test SIP/2.0\r\n"+
		"Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKasudf\r\n"+
		"From: <sip:alice@example.test>;tag=65bnmj.34asd\r\n"+
		"To: <sip:alice@example.test>\r\n"+
		"Call-ID: aiuy7k9njasd\r\n"+
		"CSeq: 1 REGISTER\r\n"+
		"Max-Forwards: 70\r\n"+
		"Supported: path, outbound, gruu\r\n"+
		"Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>;reg-id=1;+sip.instance=\"<urn:uuid:f81-7dec-14a06cf1>\";expires=600\r\n"+
		"Content-Length: 0\r\n\r\n")
	if !strings.HasPrefix(got, "SIP/2.0 401") || !strings.Contains(got, `realm="example.test"`) {
		t.Errorf("REGISTER answered %q, want 401 with realm example.test", got)
	}
}

// -pprof serves Go's profiler on its own loopback listener.
func TestPprofListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := validConfig()
	cfg.PprofAddr = addr
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("profiler: %s", resp.Status)
	}
}

// TestWiredMSRPRelayCarriesAFile runs the whole MSRP data path of the binary: a browser-like
// WebSocket client AUTHs at /msrp with users-file credentials and sends a file through the
// relay to a plain TCP peer; the Use-Path names the gateway's -msrp listener (RFC 7977 §8.2),
// and the peer's reply comes back over the same relay.
func TestWiredMSRPRelayCarriesAFile(t *testing.T) {
	g := startReal(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	got := make(chan *endpoint.Incoming, 2)
	peer, err := endpoint.Listen("127.0.0.1:0", endpoint.Options{MaxInMemory: 8 << 20, OnMessage: func(m *endpoint.Incoming) { got <- m }})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()

	inbox := make(chan *endpoint.Incoming, 2)
	c, err := endpoint.Dial(ctx, "ws://"+g.Addrs().HTTP+"/msrp", endpoint.Options{OnMessage: func(m *endpoint.Incoming) { inbox <- m }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := c.NewSession(nil)
	relayURI, _ := msrp.ParseURI("msrp://" + g.Addrs().HTTP + ";ws")
	if _, err := c.Auth(ctx, s.Local, []msrp.URI{relayURI}, "alice", "wrong", 0); endpoint.Code(err) != 403 {
		t.Fatalf("bad password: %v, want 403", err)
	}
	granted, err := c.Auth(ctx, s.Local, []msrp.URI{relayURI}, "alice", "wonderland", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(granted.UsePath) != 1 || granted.UsePath[0].HostPort() != g.Addrs().MSRP {
		t.Fatalf("Use-Path %v does not name -msrp %s", granted.UsePath, g.Addrs().MSRP)
	}
	s.ToPath = append(granted.UsePath, peer.NewSession(nil).Local)

	data := make([]byte, 3<<20+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	res, err := c.Send(ctx, s, "application/octet-stream", bytes.NewReader(data), int64(len(data)), endpoint.SendOptions{SuccessReport: true})
	if err != nil || !res.Reported {
		t.Fatalf("send: %v %+v", err, res)
	}
	m := <-got
	if !bytes.Equal(m.Body, data) {
		t.Fatalf("peer received %d bytes, want %d identical", len(m.Body), len(data))
	}
	// The peer answers along the path it received (RFC 4975 §7.1).
	if _, err := m.Conn.Send(ctx, m.Reply(), "text/plain", strings.NewReader("got it"), 6, endpoint.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case back := <-inbox:
		if string(back.Body) != "got it" {
			t.Fatalf("reply %q", back.Body)
		}
	case <-ctx.Done():
		t.Fatal("reply never arrived")
	}
}
