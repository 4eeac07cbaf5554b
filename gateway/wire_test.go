package gateway

import (
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
