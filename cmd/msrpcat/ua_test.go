package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simplegw/simplegw/bridge/auth"
	"github.com/simplegw/simplegw/bridge/sipedge"
)

// edge is the gateway's real SIP edge in embedded mode (registrar and proxy for
// "localhost", digest against a user list) on 127.0.0.1: UDP, TCP, and TLS when asked.
type edge struct {
	udp, tcp, tls string
}

func startEdge(t *testing.T, tlsConfig *tls.Config) *edge {
	t.Helper()
	store := auth.NewStore(auth.StoreConfig{Users: map[string]string{"alice": "alice-pw", "bob": "bob-pw"}})
	e, err := sipedge.New(sipedge.Config{Domain: "localhost", Digest: auth.NewDigest("localhost", store), TLSConfig: tlsConfig})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ed := &edge{udp: pc.LocalAddr().String(), tcp: ln.Addr().String()}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); e.ServeUDP(pc) }()
	go func() { defer wg.Done(); e.ServeTCP(ln) }()
	if tlsConfig != nil {
		tln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ed.tls = tln.Addr().String()
		wg.Add(1)
		go func() { defer wg.Done(); e.ServeTLS(tls.NewListener(tln, tlsConfig)) }()
	}
	t.Cleanup(func() {
		e.Close()
		wg.Wait()
	})
	return ed
}

// uaProc is a running "msrpcat ua", in-process. Its lines are kept; want takes the
// first one not taken yet with a prefix, wherever it is, since lines from different
// goroutines (SIP and MSRP) may come in either order.
type uaProc struct {
	name   string
	code   chan int
	stderr *syncBuffer
	cancel context.CancelFunc

	mu    sync.Mutex
	lines []string
	taken []bool
	ended bool
	more  chan struct{} // capacity 1: poked on a new line and at the end
}

func startUA(t *testing.T, name string, args ...string) *uaProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p := &uaProc{name: name, code: make(chan int, 1), stderr: &syncBuffer{}, cancel: cancel, more: make(chan struct{}, 1)}
	go func() {
		code := runContext(ctx, append([]string{"ua"}, args...), pw, p.stderr)
		pw.Close()
		p.code <- code
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.taken = append(p.taken, false)
			p.mu.Unlock()
			p.poke()
		}
		io.Copy(io.Discard, pr)
		p.mu.Lock()
		p.ended = true
		p.mu.Unlock()
		p.poke()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case c := <-p.code:
			p.code <- c
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop", name)
		}
	})
	return p
}

func (p *uaProc) poke() {
	select {
	case p.more <- struct{}{}:
	default:
	}
}

// want returns the first line not taken yet that starts with prefix, waiting for it;
// it fails when the process ends first.
func (p *uaProc) want(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		p.mu.Lock()
		for i, s := range p.lines {
			if !p.taken[i] && strings.HasPrefix(s, prefix) {
				p.taken[i] = true
				p.mu.Unlock()
				return s
			}
		}
		ended := p.ended
		p.mu.Unlock()
		if ended {
			t.Fatalf("%s ended before printing %q; printed %q; stderr: %s", p.name, prefix, p.printed(), p.stderr)
		}
		select {
		case <-p.more:
		case <-timeout:
			t.Fatalf("%s printed no %q; printed %q; stderr: %s", p.name, prefix, p.printed(), p.stderr)
		}
	}
}

func (p *uaProc) printed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// exit waits for the exit status and the last line.
func (p *uaProc) exit(t *testing.T) int {
	t.Helper()
	select {
	case c := <-p.code:
		p.code <- c // for the cleanup
		for {
			p.mu.Lock()
			ended := p.ended
			p.mu.Unlock()
			if ended {
				return c
			}
			<-p.more
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not exit; stderr: %s", p.name, p.stderr)
	}
	return -1
}

// sessionLine splits "session LOCAL REMOTE…".
func sessionLine(t *testing.T, s string) (local string, remote []string) {
	t.Helper()
	f := strings.Fields(s)
	if len(f) < 3 {
		t.Fatalf("session line %q", s)
	}
	return f[1], f[2:]
}

// Two softphones on the real SIP edge, one over UDP and one over TCP: alice calls bob,
// a text and a 2 MiB file cross over MSRP with matching SHA-256, alice hangs up.
func TestUACallCarriesTextAndFile(t *testing.T) {
	ed := startEdge(t, nil)
	dir := t.TempDir()
	bob := startUA(t, "bob", "--register", "sip:bob@localhost", "--via", ed.tcp, "--transport", "tcp",
		"--password", "bob-pw", "--dir", dir, "--count", "2")
	if got := bob.want(t, "registered "); got != "registered sip:bob@localhost" {
		t.Errorf("bob printed %q", got)
	}

	data := make([]byte, 2<<20)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	alice := startUA(t, "alice", "--register", "sip:alice@localhost", "--via", ed.udp,
		"--password", "alice-pw", "--call", "sip:bob@localhost", "--send", "hello bob", "--file", src)
	alice.want(t, "registered sip:alice@localhost")

	if got := bob.want(t, "incoming "); got != "incoming sip:alice@localhost" {
		t.Errorf("bob printed %q", got)
	}
	if got := alice.want(t, "ringing "); got != "ringing 180 Ringing" {
		t.Errorf("alice printed %q", got)
	}
	aLocal, aRemote := sessionLine(t, alice.want(t, "session "))
	bLocal, bRemote := sessionLine(t, bob.want(t, "session "))
	if len(aRemote) != 1 || aRemote[0] != bLocal || len(bRemote) != 1 || bRemote[0] != aLocal {
		t.Errorf("paths do not match: alice %s → %v, bob %s → %v", aLocal, aRemote, bLocal, bRemote)
	}
	if !strings.HasPrefix(aLocal, "msrp://127.0.0.1:") || !strings.HasSuffix(aLocal, ";tcp") {
		t.Errorf("alice's path %q", aLocal)
	}

	if got, want := alice.want(t, "sent "), "sent 9 sha256="+shaHex([]byte("hello bob")); got != want {
		t.Errorf("alice printed %q, want %q", got, want)
	}
	if got := bob.want(t, "message "); got != "message "+aLocal+" text/plain hello bob" {
		t.Errorf("bob printed %q", got)
	}
	sum := shaHex(data)
	if got, want := alice.want(t, "sent "), "sent 2097152 sha256="+sum; got != want {
		t.Errorf("alice printed %q, want %q", got, want)
	}
	saved := filepath.Join(dir, "big.bin")
	if got, want := bob.want(t, "file "), "file "+saved+" 2097152 sha256="+sum; got != want {
		t.Errorf("bob printed %q, want %q", got, want)
	}
	if b, err := os.ReadFile(saved); err != nil || shaHex(b) != sum {
		t.Errorf("saved file differs (%v)", err)
	}

	alice.want(t, "bye")
	bob.want(t, "bye")
	if code := alice.exit(t); code != 0 {
		t.Errorf("alice exit %d: %s", code, alice.stderr)
	}
	if code := bob.exit(t); code != 0 {
		t.Errorf("bob exit %d: %s", code, bob.stderr)
	}
}

// The answerer connects when asked to (a=setup:active in its answer, RFC 6135 §4.2.2),
// both sides send, and the offerer, passive, answers on the connection the answerer
// opened. Transports swapped: alice on TCP, bob on UDP.
func TestUAAnswererConnectsAndBothSend(t *testing.T) {
	ed := startEdge(t, nil)
	bob := startUA(t, "bob", "--register", "sip:bob@localhost", "--via", ed.udp, "--password", "bob-pw",
		"--setup", "active", "--send", "hi alice", "--count", "1", "--dir", t.TempDir())
	bob.want(t, "registered ")
	alice := startUA(t, "alice", "--register", "sip:alice@localhost", "--via", ed.tcp, "--transport", "tcp",
		"--password", "alice-pw", "--call", "bob", "--send", "hi bob", "--count", "1", "--dir", t.TempDir())
	aLocal, aRemote := sessionLine(t, alice.want(t, "session "))
	bLocal, _ := sessionLine(t, bob.want(t, "session "))
	if aRemote[0] != bLocal {
		t.Errorf("alice's To-Path %v, bob's path %s", aRemote, bLocal)
	}
	if got := alice.want(t, "message "); got != "message "+bLocal+" text/plain hi alice" {
		t.Errorf("alice printed %q", got)
	}
	if got := bob.want(t, "message "); got != "message "+aLocal+" text/plain hi bob" {
		t.Errorf("bob printed %q", got)
	}
	alice.want(t, "bye")
	bob.want(t, "bye")
	if code := alice.exit(t); code != 0 {
		t.Errorf("alice exit %d: %s", code, alice.stderr)
	}
	if code := bob.exit(t); code != 0 {
		t.Errorf("bob exit %d: %s", code, bob.stderr)
	}
}

// A ringing INVITE canceled by the caller: the callee reports it, the caller gets 487
// and says the call was not answered.
func TestUACancelRingingCall(t *testing.T) {
	ed := startEdge(t, nil)
	bob := startUA(t, "bob", "--register", "sip:bob@localhost", "--via", ed.udp, "--password", "bob-pw",
		"--answer-delay", "1h")
	bob.want(t, "registered ")
	alice := startUA(t, "alice", "--register", "sip:alice@localhost", "--via", ed.udp, "--password", "alice-pw",
		"--call", "sip:bob@localhost", "--ring-timeout", "1ms", "--send", "never sent")
	alice.want(t, "ringing 180")
	if got := bob.want(t, "canceled "); got != "canceled sip:alice@localhost" {
		t.Errorf("bob printed %q", got)
	}
	if code := alice.exit(t); code != 1 || !strings.Contains(alice.stderr.String(), "not answered") {
		t.Errorf("alice exit %d: %s", code, alice.stderr)
	}
	for _, l := range alice.printed() {
		if strings.HasPrefix(l, "session") || strings.HasPrefix(l, "sent") {
			t.Errorf("alice printed %q after a canceled call", l)
		}
	}
}

// MSRP over TLS (msrps paths, TCP/TLS/MSRP) and SIP over TLS to the edge.
func TestUATLS(t *testing.T) {
	certFile, keyFile := writeCert(t)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ed := startEdge(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	common := []string{"--tls-cert", certFile, "--tls-key", keyFile, "--ca", certFile, "--transport", "tls", "--via", ed.tls}
	bob := startUA(t, "bob", append([]string{"--register", "sip:bob@localhost", "--password", "bob-pw",
		"--count", "1", "--dir", t.TempDir()}, common...)...)
	bob.want(t, "registered ")
	alice := startUA(t, "alice", append([]string{"--register", "sip:alice@localhost", "--password", "alice-pw",
		"--call", "bob", "--send", "over tls"}, common...)...)
	aLocal, aRemote := sessionLine(t, alice.want(t, "session "))
	if !strings.HasPrefix(aLocal, "msrps://") || !strings.HasPrefix(aRemote[0], "msrps://") {
		t.Errorf("session %s → %v, want msrps", aLocal, aRemote)
	}
	if got := bob.want(t, "message "); got != "message "+aLocal+" text/plain over tls" {
		t.Errorf("bob printed %q", got)
	}
	if code := alice.exit(t); code != 0 {
		t.Errorf("alice exit %d: %s", code, alice.stderr)
	}
	if code := bob.exit(t); code != 0 {
		t.Errorf("bob exit %d: %s", code, bob.stderr)
	}
}

func TestUAFailures(t *testing.T) {
	ed := startEdge(t, nil)
	// Wrong password: the registrar's 403 (RFC 3261 §22.2) ends the tool.
	p := startUA(t, "mallory", "--register", "sip:bob@localhost", "--via", ed.udp, "--password", "wrong")
	if code := p.exit(t); code != 1 || !strings.Contains(p.stderr.String(), "403") {
		t.Errorf("wrong password: exit %d: %s", code, p.stderr)
	}
	// Calling someone who is not registered: the registrar's 480.
	p = startUA(t, "alice", "--register", "sip:alice@localhost", "--via", ed.tcp, "--transport", "tcp",
		"--password", "alice-pw", "--call", "carol")
	if code := p.exit(t); code != 1 || !strings.Contains(p.stderr.String(), "480") {
		t.Errorf("call to nobody: exit %d: %s", code, p.stderr)
	}
}

func TestUAUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"ua", "--via", "127.0.0.1:5060"}, "--register"},
		{[]string{"ua", "--register", "sip:bob@localhost"}, "--via"},
		{[]string{"ua", "--register", "sip:bob@localhost", "--via", "x", "--transport", "sctp"}, "--transport"},
		{[]string{"ua", "--register", "sip:bob@localhost", "--via", "x", "--setup", "actpass"}, "--setup"},
		{[]string{"ua", "--register", "sip:bob@localhost", "--via", "x", "--file", "/nonexistent"}, "--file"},
		{[]string{"ua", "--register", "sip:bob@localhost", "--via", "x", "--tls-cert", "c.pem"}, "--tls-key"},
		{[]string{"ua", "--register", "sip:bob@localhost", "--via", "x", "stray"}, "no arguments"},
		{[]string{"ua", "--register", "sip:bob@localhost", "--via", "x", "--count", "-1"}, "negative"},
	}
	for _, tc := range cases {
		code, _, errOut := msrpcat(tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("msrpcat %q: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	// An address-of-record that is not a SIP URI is refused before anything is sent.
	if code, _, errOut := msrpcat("ua", "--register", "bob", "--via", "127.0.0.1:1"); code != 1 || !strings.Contains(errOut, "address-of-record") {
		t.Errorf("bad AOR: exit %d: %s", code, errOut)
	}
}

// Stopping a callee with a call up: it hangs up (BYE), removes its registration, exits
// 0; the caller, still waiting for a message, sees the call end.
func TestUACalleeHangsUpOnSignal(t *testing.T) {
	ed := startEdge(t, nil)
	bob := startUA(t, "bob", "--register", "sip:bob@localhost", "--via", ed.udp, "--password", "bob-pw")
	bob.want(t, "registered ")
	alice := startUA(t, "alice", "--register", "sip:alice@localhost", "--via", ed.udp, "--password", "alice-pw",
		"--call", "bob", "--count", "1")
	alice.want(t, "session ")
	bob.want(t, "session ")
	bob.cancel()
	bob.want(t, "bye")
	if code := bob.exit(t); code != 0 {
		t.Errorf("bob exit %d: %s", code, bob.stderr)
	}
	// Bob's BYE (SIP) and the close of his MSRP side race: Alice learns of the end from
	// whichever arrives first — the BYE, or her first SEND failing on the closed connection.
	code := alice.exit(t)
	if errOut := alice.stderr.String(); code != 1 ||
		!strings.Contains(errOut, "call ended after 0 of 1") && !strings.Contains(errOut, "connection closed") {
		t.Errorf("alice exit %d: %s", code, errOut)
	}
	// Bob's binding is gone (un-REGISTER, RFC 3261 §10.2.2): the registrar answers 480.
	again := startUA(t, "alice", "--register", "sip:alice@localhost", "--via", ed.udp, "--password", "alice-pw", "--call", "bob")
	if code := again.exit(t); code != 1 || !strings.Contains(again.stderr.String(), "480") {
		t.Errorf("call after bob left: exit %d: %s", code, again.stderr)
	}
}
