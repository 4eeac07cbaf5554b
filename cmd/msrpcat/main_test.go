package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/simplegw/simplegw/bridge/auth"
	"github.com/simplegw/simplegw/bridge/msrp"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// listening is a running "msrpcat listen".
type listening struct {
	path   string
	lines  chan string
	code   chan int
	stderr *syncBuffer
}

// startListen runs msrpcat listen in-process and waits for its path line.
func startListen(t *testing.T, args ...string) *listening {
	t.Helper()
	pr, pw := io.Pipe()
	l := &listening{lines: make(chan string, 100), code: make(chan int, 1), stderr: &syncBuffer{}}
	go func() {
		code := run(append([]string{"listen"}, args...), pw, l.stderr)
		pw.Close()
		l.code <- code
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			l.lines <- sc.Text()
		}
		close(l.lines)
	}()
	first := l.line(t)
	if !strings.HasPrefix(first, "path ") {
		t.Fatalf("first line %q, want path …; stderr %s", first, l.stderr)
	}
	l.path = strings.TrimPrefix(first, "path ")
	return l
}

func (l *listening) line(t *testing.T) string {
	t.Helper()
	select {
	case s, ok := <-l.lines:
		if !ok {
			t.Fatalf("msrpcat listen ended; stderr: %s", l.stderr)
		}
		return s
	case <-time.After(60 * time.Second):
		t.Fatal("no line from msrpcat listen")
	}
	return ""
}

func (l *listening) exit(t *testing.T) int {
	t.Helper()
	select {
	case c := <-l.code:
		return c
	case <-time.After(60 * time.Second):
		t.Fatal("msrpcat listen did not exit")
	}
	return -1
}

// msrpcat runs one msrpcat command to completion.
func msrpcat(args ...string) (code int, stdout, stderr string) {
	var o, e syncBuffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestListenAndSendTextAndFile(t *testing.T) {
	dir := t.TempDir()
	l := startListen(t, "127.0.0.1:0", "--dir", dir, "--count", "3")
	if !strings.HasPrefix(l.path, "msrp://127.0.0.1:") || !strings.HasSuffix(l.path, ";tcp") || strings.Contains(l.path, ":0/") {
		t.Fatalf("path %q", l.path)
	}

	code, out, errOut := msrpcat("send", "--to-path", l.path, "hello", "world")
	if code != 0 {
		t.Fatalf("send text: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "sent 11 sha256="+shaHex([]byte("hello world"))+"\n") || !strings.Contains(out, "result 200 OK message-id=") {
		t.Errorf("send output %q", out)
	}
	got := l.line(t)
	if !strings.HasPrefix(got, "message msrp://127.0.0.1:") || !strings.HasSuffix(got, " text/plain hello world") {
		t.Errorf("listen printed %q", got)
	}

	data := make([]byte, 300_000)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "photo.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = msrpcat("send", "--to-path", l.path, "--file", src, "--chunk", "10000", "--window", "4", "--success-report")
	if code != 0 {
		t.Fatalf("send file: exit %d: %s", code, errOut)
	}
	want := shaHex(data)
	if !strings.Contains(out, "sent 300000 sha256="+want+"\n") || !strings.Contains(out, "success-report=200") {
		t.Errorf("send output %q", out)
	}
	got = l.line(t)
	saved := filepath.Join(dir, "photo.bin")
	if got != "file "+saved+" 300000 sha256="+want {
		t.Errorf("listen printed %q, want file %s 300000 sha256=%s", got, saved, want)
	}
	if b, err := os.ReadFile(saved); err != nil || shaHex(b) != want {
		t.Errorf("saved file differs (%v)", err)
	}

	// Text with a line break stays on one line, quoted.
	if code, _, errOut := msrpcat("send", "--to-path", l.path, "--", "two\nlines"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := l.line(t); !strings.HasSuffix(got, ` text/plain "two\nlines"`) {
		t.Errorf("listen printed %q", got)
	}
	if code := l.exit(t); code != 0 {
		t.Errorf("listen exit %d: %s", code, l.stderr)
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key as PEM files.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestTLS(t *testing.T) {
	certFile, keyFile := writeCert(t)
	l := startListen(t, "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile, "--dir", t.TempDir(), "--count", "2")
	if !strings.HasPrefix(l.path, "msrps://") {
		t.Fatalf("path %q, want msrps", l.path)
	}
	if code, _, errOut := msrpcat("send", "--to-path", l.path, "--insecure-skip-verify", "over", "tls"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := l.line(t); !strings.HasSuffix(got, " over tls") {
		t.Errorf("listen printed %q", got)
	}
	if code, _, errOut := msrpcat("send", "--to-path", l.path, "--ca", certFile, "trusted"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := l.line(t); !strings.HasSuffix(got, " trusted") {
		t.Errorf("listen printed %q", got)
	}
	// Without a way to trust the certificate the connection fails, and says so.
	if code, _, errOut := msrpcat("send", "--to-path", l.path, "x"); code != 1 || !strings.Contains(errOut, "connect to") {
		t.Errorf("untrusted: exit %d: %s", code, errOut)
	}
	if code := l.exit(t); code != 0 {
		t.Errorf("listen exit %d", code)
	}
}

// wsRelay is a minimal stand-in for simplegw's MSRP relay on WebSocket: AUTH with the
// real digest server, 200 to every SEND, a success REPORT when asked, and a record of
// the To-Path and body of each message.
type wsRelay struct {
	t      *testing.T
	digest *auth.Digest
	use    msrp.URI

	mu     sync.Mutex
	toPath []msrp.URI
	bodies map[string]*bytes.Buffer // by Message-ID
}

func (f *wsRelay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"msrp"}, OriginPatterns: []string{"127.0.0.1"}})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	ctx := r.Context()
	self, _ := msrp.ParseURI("msrp://127.0.0.1:1;ws")
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return
		}
		m, err := msrp.Parse(b)
		if err != nil {
			f.t.Errorf("relay: %v", err)
			return
		}
		var out []*msrp.Message
		switch m.Method {
		case msrp.MethodAUTH:
			authz, _ := m.Get("Authorization")
			creds, err := f.digest.Verify(authz, "AUTH", m.ToPath[len(m.ToPath)-1].String())
			switch {
			case errors.Is(err, auth.ErrNoCredentials):
				resp := msrp.NewResponse(m, 401, "", self)
				resp.Set("WWW-Authenticate", f.digest.Challenge(false))
				out = append(out, resp)
			case err != nil:
				out = append(out, msrp.NewResponse(m, 403, "", self))
			default:
				resp := msrp.NewResponse(m, 200, "", self)
				resp.Set("Use-Path", f.use.String())
				resp.Set("Expires", "900")
				resp.Set("Authentication-Info", f.digest.AuthenticationInfo(creds))
				out = append(out, resp)
			}
		case msrp.MethodSEND:
			f.mu.Lock()
			f.toPath = m.ToPath
			if f.bodies[m.MessageID] == nil {
				f.bodies[m.MessageID] = &bytes.Buffer{}
			}
			f.bodies[m.MessageID].Write(m.Body) // chunks arrive in order here
			total := int64(f.bodies[m.MessageID].Len())
			f.mu.Unlock()
			out = append(out, msrp.NewResponse(m, 200, "", f.use))
			if m.WantsSuccessReport() && m.Flag == msrp.FlagEnd {
				out = append(out, &msrp.Message{TransactionID: msrp.NewIdent(), Method: msrp.MethodREPORT,
					ToPath: m.FromPath, FromPath: []msrp.URI{f.use}, MessageID: m.MessageID,
					ByteRange: &msrp.ByteRange{Start: 1, End: total, Total: total}, Status: &msrp.Status{Code: 200}})
			}
		}
		for _, o := range out {
			if ws.Write(ctx, websocket.MessageBinary, o.Bytes()) != nil {
				return
			}
		}
	}
}

func TestSendThroughWebSocketRelay(t *testing.T) {
	store := auth.NewStore(auth.StoreConfig{Users: map[string]string{"bob": "pw"}})
	use, _ := msrp.ParseURI("msrp://127.0.0.1:2855/relaysess1;tcp")
	relay := &wsRelay{t: t, digest: auth.NewDigest("gw.example", store), use: use, bodies: map[string]*bytes.Buffer{}}
	srv := httptest.NewServer(relay)
	defer srv.Close()
	via := "ws" + strings.TrimPrefix(srv.URL, "http") + "/msrp"
	peer := "msrp://127.0.0.1:2860/peersess1;tcp"

	data := make([]byte, 100_000)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "f.dat")
	os.WriteFile(src, data, 0o644)
	code, out, errOut := msrpcat("send", "--via", via, "--relay", "msrp://127.0.0.1:1;ws", "--user", "bob", "--password", "pw",
		"--to-path", peer, "--file", src, "--chunk", "16384", "--success-report", "--origin", "http://127.0.0.1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "sent 100000 sha256="+shaHex(data)) || !strings.Contains(out, "success-report=200") {
		t.Errorf("output %q", out)
	}
	relay.mu.Lock()
	tp := relay.toPath
	var got []byte
	for _, b := range relay.bodies {
		got = b.Bytes()
	}
	relay.mu.Unlock()
	if len(tp) != 2 || !tp[0].Equal(use) || tp[1].String() != peer {
		t.Errorf("To-Path %v, want the Use-Path then the peer", tp)
	}
	if shaHex(got) != shaHex(data) {
		t.Error("relay received different bytes")
	}

	code, _, errOut = msrpcat("send", "--via", via, "--relay", "msrp://127.0.0.1:1;ws", "--user", "bob", "--password", "nope",
		"--to-path", peer, "hi")
	if code != 1 || !strings.Contains(errOut, "AUTH") || !strings.Contains(errOut, "403") {
		t.Errorf("bad password: exit %d: %s", code, errOut)
	}
}

func TestSendFailures(t *testing.T) {
	l := startListen(t, "127.0.0.1:0", "--dir", t.TempDir(), "--count", "1")
	wrong := l.path[:strings.LastIndex(l.path, "/")+1] + "nosuchsession;tcp" // same listener, unknown session
	code, _, errOut := msrpcat("send", "--to-path", wrong, "hello")
	if code != 1 || !strings.Contains(errOut, "481") {
		t.Errorf("unknown session: exit %d: %s", code, errOut)
	}
	// Nothing listens on port 1.
	code, _, errOut = msrpcat("send", "--to-path", "msrp://127.0.0.1:1/abc;tcp", "hello")
	if code != 1 || !strings.Contains(errOut, "connect to") {
		t.Errorf("refused: exit %d: %s", code, errOut)
	}
	msrpcat("send", "--to-path", l.path, "bye")
	l.line(t)
	l.exit(t)
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "usage"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"send", "hello"}, "--to-path"},
		{[]string{"send", "--to-path", "http://x", "hello"}, "--to-path"},
		{[]string{"send", "--to-path", "msrp://a:1/b;tcp"}, "--file or text"},
		{[]string{"send", "--to-path", "msrp://a:1/b;tcp", "--file", "x", "text"}, "not both"},
		{[]string{"send", "--to-path", "msrp://a:1/b;tcp", "--relay", "msrp://r:1;tcp", "hi"}, "--user"},
		{[]string{"send", "--to-path", "msrp://a:1/b;tcp", "--user", "u", "hi"}, "--relay"},
		{[]string{"send", "--to-path", "msrp://a:1/b;tcp", "--chunk", "0", "hi"}, "--chunk"},
		{[]string{"send", "--to-path", "msrp://a.invalid/b;ws", "hi"}, "--via"},
		{[]string{"send", "--to-path", "msrp://a:1/b;tcp", "--file", "/nonexistent/file"}, "--file"},
		{[]string{"send", "--to-path", "msrp://a:1/b;tcp", "--no-such-flag", "hi"}, "no-such-flag"},
		{[]string{"listen"}, "address"},
		{[]string{"listen", "127.0.0.1:0", "--tls-cert", "c.pem"}, "--tls-key"},
		{[]string{"listen", "127.0.0.1:0", "--dir", "/nonexistent"}, "--dir"},
	}
	for _, tc := range cases {
		code, _, errOut := msrpcat(tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("msrpcat %q: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	if code, out, _ := msrpcat("--help"); code != 0 || !strings.Contains(out, "msrpcat listen") {
		t.Errorf("--help: %d %q", code, out)
	}
}

func TestListenStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- runContext(ctx, []string{"listen", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "path msrp://") {
		t.Fatalf("%q %v", line, err)
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestSpillAndLimits(t *testing.T) {
	dir := t.TempDir()
	l := startListen(t, "127.0.0.1:0", "--dir", dir, "--count", "3", "--text-max", "10", "--max-size", "1000")

	long := "this text is longer than ten bytes"
	if code, _, errOut := msrpcat("send", "--to-path", l.path, long); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := strings.Fields(l.line(t))
	if len(got) != 4 || got[0] != "file" || got[2] != "34" || got[3] != "sha256="+shaHex([]byte(long)) {
		t.Fatalf("long text: %q", got)
	}
	if b, _ := os.ReadFile(got[1]); string(b) != long {
		t.Errorf("file holds %q", b)
	}

	if code, _, errOut := msrpcat("send", "--to-path", l.path, "--content-type", "application/json", `{"a":1}`); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := l.line(t); !strings.HasPrefix(got, "file "+filepath.Join(dir, "msrp-")) || !strings.HasSuffix(got, " 7 sha256="+shaHex([]byte(`{"a":1}`))) {
		t.Errorf("json: %q", got)
	}

	big := filepath.Join(t.TempDir(), "big")
	os.WriteFile(big, make([]byte, 5000), 0o644)
	code, _, errOut := msrpcat("send", "--to-path", l.path, "--file", big)
	if code != 1 || !strings.Contains(errOut, "413") {
		t.Errorf("over --max-size: exit %d: %s", code, errOut)
	}
	if got := l.line(t); !strings.HasPrefix(got, "failed ") {
		t.Errorf("listen printed %q", got)
	}
	if code := l.exit(t); code != 0 {
		t.Errorf("exit %d", code)
	}
}
