package gateway

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeService stands in for the SIP edge and the MSRP relay: WebSockets
// echo every message; TCP/TLS connections get the banner "<name> <kind>\n";
// UDP datagrams are echoed with the prefix "<name> udp ".
type fakeService struct {
	name string

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed int // Close calls
	wsCtx  []context.Context
}

func newFake(name string) *fakeService {
	return &fakeService{name: name, conns: make(map[net.Conn]struct{})}
}

func (f *fakeService) ServeWebSocket(ctx context.Context, c *websocket.Conn) {
	f.mu.Lock()
	f.wsCtx = append(f.wsCtx, ctx)
	f.mu.Unlock()
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		if err := c.Write(ctx, typ, data); err != nil {
			return
		}
	}
}

func (f *fakeService) ServeTCP(ln net.Listener) error { return f.accept(ln, "tcp") }
func (f *fakeService) ServeTLS(ln net.Listener) error { return f.accept(ln, "tls") }

func (f *fakeService) accept(ln net.Listener, kind string) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.conns[c] = struct{}{}
		f.mu.Unlock()
		go func() {
			_, _ = fmt.Fprintf(c, "%s %s\n", f.name, kind)
		}()
	}
}

func (f *fakeService) ServeUDP(pc net.PacketConn) error {
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		_, _ = pc.WriteTo(append([]byte(f.name+" udp "), buf[:n]...), from)
	}
}

func (f *fakeService) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	for c := range f.conns {
		c.Close()
	}
	return nil
}

func (f *fakeService) closeCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

type testGateway struct {
	*Gateway
	msrp, sip *fakeService
	certPool  *x509.CertPool
}

// startGateway starts a gateway with fake services on 127.0.0.1 port 0.
func startGateway(t *testing.T, mod func(c *Config)) *testGateway {
	t.Helper()
	cfg := validConfig()
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	serverTLS, err := loadTLS(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	tg := &testGateway{msrp: newFake("msrp"), sip: newFake("sip")}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tg.Gateway = newGateway(cfg, log, services{msrp: tg.msrp, sip: tg.sip}, serverTLS)
	if err := tg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tg.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return tg
}

// testWriter sends logs to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// writeCert writes a self-signed certificate for 127.0.0.1 and localhost
// into dir and returns the file names and a pool trusting it.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "simplegw test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func readBanner(t *testing.T, c net.Conn) string {
	t.Helper()
	defer c.Close()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading banner from %s: %v", c.RemoteAddr(), err)
	}
	return strings.TrimSuffix(line, "\n")
}

func dialBanner(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return readBanner(t, c)
}

func udpEcho(t *testing.T, addr, msg string) string {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

var readyRE = regexp.MustCompile(`^simplegw ready http=127\.0\.0\.1:(\d+) msrp=127\.0\.0\.1:(\d+) sip=127\.0\.0\.1:(\d+)$`)

func TestReadyLineAndListeners(t *testing.T) {
	g := startGateway(t, nil)
	line := g.ReadyLine()
	m := readyRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("ready line %q does not match %v", line, readyRE)
	}
	for i, p := range m[1:] {
		if p == "0" {
			t.Errorf("port %d in %q is 0, want the bound port", i, line)
		}
	}
	a := g.Addrs()
	if want := fmt.Sprintf("simplegw ready http=%s msrp=%s sip=%s", a.HTTP, a.MSRP, a.SIP); line != want {
		t.Errorf("ready line %q, Addrs say %q", line, want)
	}
	if a.MSRPS != "" || a.SIPS != "" {
		t.Errorf("TLS listeners bound without -msrps/-sips: %+v", a)
	}
	// Each listener reaches its service.
	if got := dialBanner(t, a.MSRP); got != "msrp tcp" {
		t.Errorf("msrp listener: banner %q", got)
	}
	if got := dialBanner(t, a.SIP); got != "sip tcp" {
		t.Errorf("sip TCP listener: banner %q", got)
	}
	if got := udpEcho(t, a.SIP, "OPTIONS"); got != "sip udp OPTIONS" {
		t.Errorf("sip UDP on the TCP port: got %q", got)
	}
}

func TestReadyLineEmptyBeforeStart(t *testing.T) {
	g := newGateway(validConfig(), slog.New(slog.DiscardHandler), services{msrp: newFake("msrp"), sip: newFake("sip")}, nil)
	if l := g.ReadyLine(); l != "" {
		t.Errorf("ReadyLine before Start = %q", l)
	}
	if err := g.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown before Start: %v", err)
	}
	if err := g.Start(); err == nil {
		t.Error("Start after Shutdown succeeded")
	}
}

func TestStartTwice(t *testing.T) {
	g := startGateway(t, nil)
	if err := g.Start(); err == nil {
		t.Fatal("second Start succeeded")
	}
}

func TestTLSListeners(t *testing.T) {
	certFile, keyFile, pool := writeCert(t, t.TempDir())
	g := startGateway(t, func(c *Config) {
		c.MSRPSAddr, c.SIPSAddr = "127.0.0.1:0", "127.0.0.1:0"
		c.TLSCertFile, c.TLSKeyFile = certFile, keyFile
	})
	a := g.Addrs()
	want := fmt.Sprintf("simplegw ready http=%s msrp=%s sip=%s msrps=%s sips=%s", a.HTTP, a.MSRP, a.SIP, a.MSRPS, a.SIPS)
	if g.ReadyLine() != want {
		t.Fatalf("ready line %q, want %q", g.ReadyLine(), want)
	}
	for _, l := range []struct{ addr, banner string }{{a.MSRPS, "msrp tls"}, {a.SIPS, "sip tls"}} {
		if strings.HasSuffix(l.addr, ":0") {
			t.Errorf("unbound port in %q", l.addr)
		}
		c, err := tls.Dial("tcp", l.addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err != nil {
			t.Fatalf("TLS to %s: %v", l.addr, err)
		}
		if got := readBanner(t, c); got != l.banner {
			t.Errorf("%s: banner %q, want %q", l.addr, got, l.banner)
		}
	}

	// HTTP is served over TLS, WebSockets as wss:// on HTTP/1.1.
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}}
	resp, err := client.Get("https://" + a.HTTP + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Proto != "HTTP/1.1" {
		t.Errorf("https healthz: %s %s", resp.Proto, resp.Status)
	}
	ctx := t.Context()
	c, _, err := websocket.Dial(ctx, "wss://"+a.HTTP+"/msrp", &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, Subprotocols: []string{"msrp"},
	})
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer c.CloseNow()
	echo(t, c, "MSRP abcd SEND\r\n-------abcd$\r\n")
	c.Close(websocket.StatusNormalClosure, "")
}

func echo(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	ctx := t.Context()
	if err := c.Write(ctx, websocket.MessageBinary, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	_, got, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != msg {
		t.Fatalf("echo %q, want %q", got, msg)
	}
}

func TestStartBindFailureNamesFlag(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		flag string
		mod  func(c *Config)
	}{
		{"http", func(c *Config) { c.HTTPAddr = busy.Addr().String() }},
		{"msrp", func(c *Config) { c.MSRPAddr = busy.Addr().String() }},
		{"sip", func(c *Config) { c.SIPAddr = busy.Addr().String() }},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			cfg := validConfig()
			tc.mod(&cfg)
			msrp, sip := newFake("msrp"), newFake("sip")
			g := newGateway(cfg, slog.New(slog.DiscardHandler), services{msrp: msrp, sip: sip}, nil)
			err := g.Start()
			if err == nil || !strings.HasPrefix(err.Error(), "-"+tc.flag+": ") {
				t.Fatalf("Start() = %v, want an error starting with -%s:", err, tc.flag)
			}
			if g.ReadyLine() != "" {
				t.Errorf("ready line after failed Start: %q", g.ReadyLine())
			}
			if err := g.Shutdown(context.Background()); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if msrp.closeCalls() != 1 || sip.closeCalls() != 1 {
				t.Errorf("services closed %d/%d times, want 1/1", msrp.closeCalls(), sip.closeCalls())
			}
		})
	}
}

// rawUpgrade sends a WebSocket handshake by hand and returns the response,
// so tests see exactly what the 101 (or the refusal) carries.
func rawUpgrade(t *testing.T, addr, path string, hdr map[string]string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for k, v := range hdr {
		req += k + ": " + v + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestSubprotocolEchoedIn101(t *testing.T) {
	g := startGateway(t, nil)
	for _, proto := range []string{"sip", "msrp"} {
		// The RFC 7118 §4.1 / RFC 7977 §4.1 handshakes, byte for byte.
		resp := rawUpgrade(t, g.Addrs().HTTP, "/"+proto, map[string]string{"Sec-WebSocket-Protocol": proto})
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("/%s: status %s", proto, resp.Status)
		}
		if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != proto {
			t.Errorf("/%s: Sec-WebSocket-Protocol %q in the 101", proto, got)
		}
		if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
			t.Errorf("/%s: Sec-WebSocket-Accept %q", proto, got)
		}

		// And through a real client, messages reach the service.
		c, _, err := websocket.Dial(t.Context(), "ws://"+g.Addrs().HTTP+"/"+proto, &websocket.DialOptions{Subprotocols: []string{proto}})
		if err != nil {
			t.Fatal(err)
		}
		if c.Subprotocol() != proto {
			t.Errorf("negotiated %q, want %q", c.Subprotocol(), proto)
		}
		echo(t, c, "hello "+proto)
		c.Close(websocket.StatusNormalClosure, "")
	}
}

func TestMissingSubprotocolClosed(t *testing.T) {
	g := startGateway(t, nil)
	for _, tc := range []struct {
		path    string
		offered []string
	}{
		{"/sip", nil},
		{"/msrp", nil},
		{"/msrp", []string{"sip"}},
		{"/sip", []string{"msrp", "chat"}},
	} {
		t.Run(tc.path+"+"+strings.Join(tc.offered, ","), func(t *testing.T) {
			c, _, err := websocket.Dial(t.Context(), "ws://"+g.Addrs().HTTP+tc.path, &websocket.DialOptions{Subprotocols: tc.offered})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			_, _, err = c.Read(t.Context())
			var ce websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("Read: %v, want a close frame", err)
			}
			want := strings.TrimPrefix(tc.path, "/")
			if ce.Code != websocket.StatusProtocolError || !strings.Contains(ce.Reason, `"`+want+`" WebSocket subprotocol is required`) {
				t.Errorf("close %d %q, want 1002 naming %q", ce.Code, ce.Reason, want)
			}
		})
	}
	if n := len(g.sip.wsCtx) + len(g.msrp.wsCtx); n != 0 {
		t.Errorf("%d connections without subprotocol reached a service", n)
	}
}

func TestOriginPolicy(t *testing.T) {
	g := startGateway(t, func(c *Config) {
		c.Origins = []string{"app.example.com", "*.example.org", "https://secure.example.net"}
	})
	addr := g.Addrs().HTTP
	_, port, _ := net.SplitHostPort(addr)
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true},                           // not a browser: no Origin, no CORS header
		{"http://" + addr, true},             // same origin
		{"http://localhost:" + port, true},   // loopback origins (HTTP bound on loopback)
		{"http://localhost:3000", true},      // a dev server beside the gateway
		{"http://127.0.0.1:5173", true},      //
		{"http://[::1]:8000", true},          //
		{"https://app.example.com", true},    // host pattern, any scheme
		{"http://app.example.com", true},     //
		{"https://chat.example.org", true},   // wildcard
		{"https://secure.example.net", true}, // scheme pattern
		{"http://secure.example.net", false}, // wrong scheme
		{"https://evil.example", false},
		{"https://app.example.com.evil.example", false},
		{"null", false},
	}
	for _, tt := range tests {
		for _, proto := range []string{"sip", "msrp"} {
			hdr := map[string]string{"Sec-WebSocket-Protocol": proto}
			if tt.origin != "" {
				hdr["Origin"] = tt.origin
			}
			resp := rawUpgrade(t, addr, "/"+proto, hdr)
			acao := resp.Header.Get("Access-Control-Allow-Origin")
			switch {
			case tt.ok && resp.StatusCode != http.StatusSwitchingProtocols:
				t.Errorf("/%s Origin %q: %s, want 101", proto, tt.origin, resp.Status)
			case !tt.ok && resp.StatusCode != http.StatusForbidden:
				t.Errorf("/%s Origin %q: %s, want 403", proto, tt.origin, resp.Status)
			case tt.ok && tt.origin != "" && acao != tt.origin:
				t.Errorf("/%s Origin %q: Access-Control-Allow-Origin %q on the 101", proto, tt.origin, acao)
			case (!tt.ok || tt.origin == "") && acao != "":
				t.Errorf("/%s Origin %q: unexpected Access-Control-Allow-Origin %q", proto, tt.origin, acao)
			}
		}
	}
}

func TestLoopbackOriginsOnlyOnLoopback(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://gw.example.com/sip", nil)
	r.Host = "gw.example.com"
	public := newOriginPolicy(&Config{HTTPAddr: "0.0.0.0:443"})
	if public.allowed(r, "http://localhost:3000") {
		t.Error("loopback origin allowed on a public listener")
	}
	if !public.allowed(r, "https://gw.example.com") {
		t.Error("same origin refused")
	}
	local := newOriginPolicy(&Config{HTTPAddr: "127.0.0.1:8080", Origins: []string{" a.example "}})
	if !local.allowed(r, "http://localhost:3000") || !local.allowed(r, "https://a.example") {
		t.Error("loopback or configured origin refused on a loopback listener")
	}
}

func TestCORSOnStaticFiles(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.Origins = []string{"app.example.com"} })
	base := "http://" + g.Addrs().HTTP
	for _, tc := range []struct {
		path, origin, wantACAO string
	}{
		{"/", "https://app.example.com", "https://app.example.com"},
		{"/", "https://evil.example", ""},
		{"/", "", ""},
		{"/healthz", "https://app.example.com", "https://app.example.com"},
		{"/healthz", "https://evil.example", ""},
	} {
		req, _ := http.NewRequest("GET", base+tc.path, nil)
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %s", tc.path, resp.Status)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.wantACAO {
			t.Errorf("GET %s Origin %q: Access-Control-Allow-Origin %q, want %q", tc.path, tc.origin, got, tc.wantACAO)
		}
		if !strings.Contains(resp.Header.Get("Vary"), "Origin") {
			t.Errorf("GET %s: no Vary: Origin", tc.path)
		}
		// The embedded demo page, which loads the browser library from the gateway.
		if tc.path == "/" && (!strings.Contains(string(body), "simplegw") || !strings.Contains(string(body), "demo.js")) {
			t.Errorf("GET /: not the demo page: %.200q", body)
		}
	}
	// Preflight for the library.
	req, _ := http.NewRequest("OPTIONS", base+"/", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("preflight: headers %v", resp.Header)
	}
}

func TestHealthz(t *testing.T) {
	certFile, keyFile, pool := writeCert(t, t.TempDir())
	g := startGateway(t, func(c *Config) {
		c.MSRPSAddr, c.TLSCertFile, c.TLSKeyFile = "127.0.0.1:0", certFile, keyFile
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + g.Addrs().HTTP + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("healthz: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	var h struct {
		Status    string            `json:"status"`
		Listeners map[string]string `json:"listeners"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	a := g.Addrs()
	want := map[string]string{"http": a.HTTP, "msrp": a.MSRP, "sip": a.SIP, "msrps": a.MSRPS}
	if h.Status != "ok" || fmt.Sprint(h.Listeners) != fmt.Sprint(want) {
		t.Errorf("healthz = %+v, want ok %v", h, want)
	}

	post, err := client.Post("https://"+a.HTTP+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %s", post.Status)
	}
}

func TestReadLimits(t *testing.T) {
	g := startGateway(t, nil)
	for _, tc := range []struct {
		proto string
		limit int
	}{{"sip", SIPReadLimit}, {"msrp", MSRPReadLimit}} {
		c, _, err := websocket.Dial(t.Context(), "ws://"+g.Addrs().HTTP+"/"+tc.proto, &websocket.DialOptions{Subprotocols: []string{tc.proto}})
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadLimit(int64(tc.limit) + 1024)
		// A message at the limit passes (the fake echoes it).
		echo(t, c, strings.Repeat("a", tc.limit))
		// One byte more is refused with 1009.
		if err := c.Write(t.Context(), websocket.MessageBinary, make([]byte, tc.limit+1)); err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Read(t.Context())
		if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
			t.Errorf("/%s: message of %d bytes: %v, want close 1009", tc.proto, tc.limit+1, err)
		}
		c.CloseNow()
	}
}

func TestGracefulShutdown(t *testing.T) {
	cfg := validConfig()
	msrp, sip := newFake("msrp"), newFake("sip")
	g := newGateway(cfg, slog.New(slog.DiscardHandler), services{msrp: msrp, sip: sip}, nil)
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	a := g.Addrs()

	var clients []*websocket.Conn
	for _, proto := range []string{"sip", "msrp", "sip"} {
		c, _, err := websocket.Dial(t.Context(), "ws://"+a.HTTP+"/"+proto, &websocket.DialOptions{Subprotocols: []string{proto}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		echo(t, c, "ping") // the service is serving it
		clients = append(clients, c)
	}
	tcp, err := net.Dial("tcp", a.MSRP)
	if err != nil {
		t.Fatal(err)
	}
	readBanner(t, tcp)

	done := make(chan error, 1)
	go func() { done <- g.Shutdown(context.Background()) }()

	for i, c := range clients {
		_, _, err := c.Read(t.Context())
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "going away" {
			t.Errorf("client %d: %v, want close 1001 \"going away\"", i, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if msrp.closeCalls() != 1 || sip.closeCalls() != 1 {
		t.Errorf("services closed %d/%d times, want once each", msrp.closeCalls(), sip.closeCalls())
	}
	for _, ctx := range append(msrp.wsCtx, sip.wsCtx...) {
		if ctx.Err() == nil {
			t.Error("the services' WebSocket context is still live after Shutdown")
		}
	}
	for _, addr := range []string{a.HTTP, a.MSRP, a.SIP} {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Errorf("%s still accepts after Shutdown", addr)
		}
	}
	// A second Shutdown returns the first one's result.
	if err := g.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// stuckService never reads its WebSocket; it returns only when its context
// is cancelled.
type stuckService struct {
	*fakeService
	entered, returned chan struct{}
}

func (s *stuckService) ServeWebSocket(ctx context.Context, c *websocket.Conn) {
	close(s.entered)
	<-ctx.Done()
	close(s.returned)
}

func TestShutdownDeadline(t *testing.T) {
	stuck := &stuckService{fakeService: newFake("sip"), entered: make(chan struct{}), returned: make(chan struct{})}
	g := newGateway(validConfig(), slog.New(slog.DiscardHandler), services{msrp: newFake("msrp"), sip: stuck}, nil)
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	c, _, err := websocket.Dial(t.Context(), "ws://"+g.Addrs().HTTP+"/sip", &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	<-stuck.entered

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Shutdown(ctx) }()
	// The client still gets its 1001 although the service is not reading.
	_, _, err = c.Read(t.Context())
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("client: %v, want close 1001", err)
	}
	// The handler does not return; the caller's deadline ends the wait.
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want context.Canceled", err)
	}
	// Shutdown cancelled the services' context, so the service returned.
	<-stuck.returned
	if stuck.closeCalls() != 1 {
		t.Errorf("service closed %d times", stuck.closeCalls())
	}
}
