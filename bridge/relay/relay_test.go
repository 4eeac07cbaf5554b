package relay

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/simplegw/simplegw/bridge/auth"
	"github.com/simplegw/simplegw/bridge/msrp"
)

func TestAuth(t *testing.T) {
	tr := newTestRelay(t, nil)
	alice := tr.dialWS(t, "alice")

	// RFC 4976 §5.1: the challenge is digest with qop="auth"; §9.1 forbids MD5-sess/auth-int.
	relayURI := mustURI(t, "msrp://localhost:2855;tcp")
	alice.send(&msrp.Message{Method: msrp.MethodAUTH, ToPath: []msrp.URI{relayURI}})
	ch := alice.recv()
	wa, _ := ch.Get("WWW-Authenticate")
	if ch.Code != 401 || !strings.HasPrefix(wa, "Digest ") || !strings.Contains(wa, `qop="auth"`) ||
		!strings.Contains(wa, `realm="localhost"`) || paths(ch.ToPath) != alice.self.String() {
		t.Fatalf("challenge: %q", ch.Bytes())
	}

	if resp := alice.auth("alice", "wrong"); resp.Code != 403 {
		t.Fatalf("bad password: %d, want 403", resp.Code)
	}
	if resp := alice.auth("mallory", "secret"); resp.Code != 403 {
		t.Fatalf("unknown user: %d, want 403", resp.Code)
	}
	// Expires out of range: 423 with the bound (RFC 4976 §6.3).
	resp := alice.auth("alice", "secret", msrp.Field{Name: "Expires", Value: "5"})
	if v, _ := resp.Get("Min-Expires"); resp.Code != 423 || v != "30" {
		t.Fatalf("short Expires: %q", resp.Bytes())
	}
	resp = alice.auth("alice", "secret", msrp.Field{Name: "Expires", Value: "99999999"})
	if v, _ := resp.Get("Max-Expires"); resp.Code != 423 || v != "86400" {
		t.Fatalf("long Expires: %q", resp.Bytes())
	}

	resp = alice.auth("alice", "secret", msrp.Field{Name: "Expires", Value: "600"})
	if resp.Code != 200 {
		t.Fatalf("AUTH: %q", resp.Bytes())
	}
	up, err := resp.UsePath()
	if err != nil || len(up) != 1 {
		t.Fatalf("Use-Path: %v", err)
	}
	u := up[0]
	port := tr.tcp.Addr().(*net.TCPAddr).Port
	// Use-Path names the TCP listener, with an explicit port and 128 random bits.
	if u.Host != "127.0.0.1" || u.Port != port || len(u.SessionID) < 26 || u.Transport != "tcp" || u.Secure {
		t.Fatalf("Use-Path URI %s", u)
	}
	if v, _ := resp.Get("Expires"); v != "600" {
		t.Fatalf("Expires = %q", v)
	}
	ai, _ := resp.Get("Authentication-Info")
	for _, p := range []string{"rspauth=", "cnonce=", "nc=", "qop="} {
		if !strings.Contains(ai, p) {
			t.Fatalf("Authentication-Info %q lacks %s (RFC 4976 §9.1)", ai, p)
		}
	}
	// Each AUTH gives a fresh URI.
	if u2 := alice.bind("alice"); u2.SessionID == u.SessionID {
		t.Fatal("two AUTHs returned the same relay URI")
	}
}

func TestRepeatedAuthFailuresCloseTheConnection(t *testing.T) {
	tr := newTestRelay(t, nil)
	mallory := tr.dialWS(t, "mallory")
	for i := 0; i < maxAuthFailures; i++ {
		if resp := mallory.auth("alice", "guess"); resp.Code != 403 {
			t.Fatalf("attempt %d: %d", i, resp.Code)
		}
	}
	err := expectClosed(t, mallory)
	if websocket.CloseStatus(err) != 4403 {
		t.Fatalf("close: %v, want 4403", err)
	}
}

func TestWebSocketToTCPPeer(t *testing.T) {
	tr := newTestRelay(t, nil)
	alice := tr.dialWS(t, "alice")
	relayA := alice.bind("alice")
	bob := newPeer(t, "bob")

	// RFC 7977 §8.2.2: SEND F1 → 200 F2 from the relay, SEND F3 → 200 F4 from Bob.
	send := textSEND([]msrp.URI{relayA, bob.uri}, "Hi Bob, I'm about to send you file.mpeg")
	alice.send(send)
	ok := alice.recv()
	if ok.Code != 200 || ok.TransactionID != send.TransactionID || paths(ok.ToPath) != alice.self.String() ||
		paths(ok.FromPath) != relayA.String() {
		t.Fatalf("relay's answer: %q", ok.Bytes())
	}
	bobConn := bob.accept()
	got := bobConn.recv()
	if got.Method != "SEND" || got.TransactionID == send.TransactionID || string(got.Body) != string(send.Body) ||
		got.MessageID != send.MessageID || paths(got.ToPath) != bob.uri.String() ||
		paths(got.FromPath) != relayA.String()+" "+alice.self.String() || got.ByteRange.String() != send.ByteRange.String() {
		t.Fatalf("forwarded SEND: %q", got.Bytes())
	}
	bobConn.respond(got, 200)

	// Bob answers over the connection the relay opened (RFC 4975 §5.4 reuse).
	reply := textSEND([]msrp.URI{relayA, alice.self}, "Thanks for the file.")
	bobConn.send(reply)
	if r := bobConn.recv(); r.Code != 200 || r.TransactionID != reply.TransactionID {
		t.Fatalf("relay's answer to Bob: %q", r.Bytes())
	}
	in := alice.recv()
	if string(in.Body) != "Thanks for the file." || paths(in.FromPath) != relayA.String()+" "+bob.uri.String() ||
		paths(in.ToPath) != alice.self.String() {
		t.Fatalf("Alice got %q", in.Bytes())
	}
	alice.respond(in, 200)

	// A second message reuses the open connection: no new accept.
	alice.send(textSEND([]msrp.URI{relayA, bob.uri}, "again"))
	if r := alice.recv(); r.Code != 200 {
		t.Fatalf("second send: %d", r.Code)
	}
	if got := bobConn.recv(); string(got.Body) != "again" {
		t.Fatalf("second message: %q", got.Body)
	}
	select {
	case <-bob.acc:
		t.Fatal("relay opened a second connection instead of reusing the first")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestTCPPeerToWebSocket(t *testing.T) {
	tr := newTestRelay(t, nil)
	alice := tr.dialWS(t, "alice")
	relayA := alice.bind("alice")
	// Bob does not listen: he dials the relay, and Alice's replies must come back over his
	// connection (his URI names the address he connects from; nothing listens on its port).
	bobURI := mustURI(t, "msrp://127.0.0.1:9/bobsess;tcp")
	bob := dialTCP(t, tr.tcp.Addr().String(), "bob", bobURI)

	send := textSEND([]msrp.URI{relayA, alice.self}, "Thanks for the file.")
	bob.send(send)
	if r := bob.recv(); r.Code != 200 || r.TransactionID != send.TransactionID || paths(r.ToPath) != bobURI.String() {
		t.Fatalf("relay's answer: %q", r.Bytes())
	}
	in := alice.recv()
	if string(in.Body) != string(send.Body) || paths(in.FromPath) != relayA.String()+" "+bobURI.String() {
		t.Fatalf("Alice got %q", in.Bytes())
	}
	alice.respond(in, 200)

	reply := textSEND([]msrp.URI{relayA, bobURI}, "you're welcome")
	alice.send(reply)
	if r := alice.recv(); r.Code != 200 {
		t.Fatalf("reply: %q", r.Bytes())
	}
	got := bob.recv()
	if string(got.Body) != "you're welcome" || paths(got.ToPath) != bobURI.String() {
		t.Fatalf("Bob got %q", got.Bytes())
	}
}

// From-Path is only a claim: a connection that claims another peer's URI must not receive
// that peer's traffic (RFC 4976 §6.4.3 "best connection" means one that reaches the URI).
func TestForgedFromPathCannotStealTraffic(t *testing.T) {
	tr := newTestRelay(t, nil)
	alice := tr.dialWS(t, "alice")
	relayA := alice.bind("alice")
	bob := newPeer(t, "bob")
	alice.send(textSEND([]msrp.URI{relayA, bob.uri}, "hello bob"))
	alice.recv()
	bobConn := bob.accept()
	bobConn.respond(bobConn.recv(), 200)

	// Mallory connects and speaks as Bob, once with Bob's URI, once with msrps.
	mallory := dialTCP(t, tr.tcp.Addr().String(), "mallory", bob.uri)
	for _, from := range []msrp.URI{bob.uri, mustURI(t, "msrps://"+bob.uri.HostPort()+"/"+bob.uri.SessionID+";tcp")} {
		m := textSEND([]msrp.URI{relayA, alice.self}, "hi, I am bob")
		m.FromPath = []msrp.URI{from}
		mallory.send(m)
		mallory.recv() // the relay's 200
		alice.respond(alice.recv(), 200)
	}
	alice.send(textSEND([]msrp.URI{relayA, bob.uri}, "secret for bob"))
	alice.recv()
	select {
	case got := <-mallory.inq:
		t.Fatalf("mallory received %q", got.Bytes())
	case got := <-bobConn.inq:
		if string(got.Body) != "secret for bob" {
			t.Fatalf("bob got %q", got.Body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the message went nowhere")
	}
	// And one connection cannot fill the peer table.
	for i := 0; i < 2*maxPeersPerConn; i++ {
		m := textSEND([]msrp.URI{relayA, alice.self}, "x")
		m.FailureReport = "no"
		m.FromPath = []msrp.URI{mustURI(t, fmt.Sprintf("msrp://127.0.0.1:1/%d;tcp", i))}
		mallory.send(m)
		alice.recv()
	}
	tr.mu.RLock()
	n := len(tr.peers)
	tr.mu.RUnlock()
	if n > maxPeersPerConn {
		t.Fatalf("%d peer entries for one connection", n)
	}
}

// RFC 7977 §8.3: two WebSocket clients of one relay; the To-Path names the relay twice.
func TestWebSocketToWebSocket(t *testing.T) {
	tr := newTestRelay(t, nil)
	alice := tr.dialWS(t, "alice")
	carol := tr.dialWS(t, "carol")
	relayA := alice.bind("alice")
	relayC := carol.bind("carol")

	send := textSEND([]msrp.URI{relayA, relayC, carol.self}, "Carol, I sent that file to Bob.")
	send.SuccessReport = "no"
	alice.send(send)
	if r := alice.recv(); r.Code != 200 || paths(r.FromPath) != relayA.String() {
		t.Fatalf("F2: %q", r.Bytes())
	}
	got := carol.recv()
	want := relayC.String() + " " + relayA.String() + " " + alice.self.String()
	if paths(got.ToPath) != carol.self.String() || paths(got.FromPath) != want || string(got.Body) != string(send.Body) {
		t.Fatalf("F3: %q\nwant From-Path %s", got.Bytes(), want)
	}
	carol.respond(got, 200)
	// Carol's 200 ends at the relay; Alice hears nothing more.
	alice.expectNothing(100 * time.Millisecond)

	// Success reports travel back as requests.
	rep := &msrp.Message{Method: msrp.MethodREPORT, ToPath: []msrp.URI{relayC, relayA, alice.self},
		MessageID: send.MessageID, ByteRange: send.ByteRange, Status: &msrp.Status{Code: 200, Comment: "OK"}}
	carol.send(rep)
	in := alice.recv()
	if in.Method != "REPORT" || in.Status.Code != 200 || in.MessageID != send.MessageID || paths(in.ToPath) != alice.self.String() {
		t.Fatalf("REPORT: %q", in.Bytes())
	}
	carol.expectNothing(50 * time.Millisecond) // REPORTs are never answered
}

func TestNicknameIsForwardedAndAnswered(t *testing.T) {
	tr := newTestRelay(t, nil)
	alice := tr.dialWS(t, "alice")
	relayA := alice.bind("alice")
	focus := newPeer(t, "focus")

	// RFC 7701 §6: NICKNAME is a method the relay does not know; it is forwarded, and the
	// focus's response comes back with the original transaction id.
	nick := &msrp.Message{Method: "NICKNAME", ToPath: []msrp.URI{relayA, focus.uri},
		Fields: []msrp.Field{{Name: "Use-Nickname", Value: `"Alice the Great"`}}}
	alice.send(nick)
	fc := focus.accept()
	got := fc.recv()
	if got.Method != "NICKNAME" || paths(got.FromPath) != relayA.String()+" "+alice.self.String() {
		t.Fatalf("focus got %q", got.Bytes())
	}
	if v, _ := got.Get("Use-Nickname"); v != `"Alice the Great"` {
		t.Fatalf("Use-Nickname = %q", v)
	}
	fc.send(&msrp.Message{TransactionID: got.TransactionID, Code: 425, Comment: "Nickname taken",
		ToPath: got.FromPath, FromPath: []msrp.URI{focus.uri}})
	resp := alice.recv()
	if resp.Code != 425 || resp.TransactionID != nick.TransactionID || paths(resp.ToPath) != alice.self.String() ||
		paths(resp.FromPath) != relayA.String()+" "+focus.uri.String() {
		t.Fatalf("Alice got %q", resp.Bytes())
	}
}

func TestFailureReports(t *testing.T) {
	tr := newTestRelay(t, nil)
	alice := tr.dialWS(t, "alice")
	relayA := alice.bind("alice")
	bob := newPeer(t, "bob")

	expectReport := func(send *msrp.Message, code int) {
		t.Helper()
		rep := alice.recv()
		if rep.Method != "REPORT" || rep.Status == nil || rep.Status.Code != code || rep.MessageID != send.MessageID ||
			paths(rep.ToPath) != alice.self.String() || paths(rep.FromPath) != relayA.String() {
			t.Fatalf("want REPORT %d, got %q", code, rep.Bytes())
		}
	}

	// A non-200 from the next hop becomes a REPORT with that code (RFC 4976 §6.4.3).
	send := textSEND([]msrp.URI{relayA, bob.uri}, "too big for you")
	alice.send(send)
	if r := alice.recv(); r.Code != 200 {
		t.Fatalf("relay's answer: %d", r.Code)
	}
	bc := bob.accept()
	bc.respond(bc.recv(), 413)
	expectReport(send, 413)

	// No response within the transaction timeout: REPORT 408 (RFC 4976 §6.4.1).
	send = textSEND([]msrp.URI{relayA, bob.uri}, "anyone there?")
	alice.send(send)
	alice.recv() // 200
	bc.recv()    // and Bob stays silent
	expectReport(send, 408)

	// Failure-Report: no — no answer, no REPORT.
	send = textSEND([]msrp.URI{relayA, bob.uri}, "fire and forget")
	send.FailureReport = "no"
	alice.send(send)
	bc.respond(bc.recv(), 500)
	alice.expectNothing(tr.cfg.TransactionTimeout + 100*time.Millisecond)

	// The peer's connection closes before it answers: REPORT 408, not silence.
	send = textSEND([]msrp.URI{relayA, bob.uri}, "goodbye")
	alice.send(send)
	alice.recv() // 200
	bc.recv()
	bc.nc.Close()
	expectReport(send, 408)

	// The next hop cannot be reached at all: the relay answers the SEND with 481.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURI := mustURI(t, fmt.Sprintf("msrp://%s/gone;tcp", dead.Addr()))
	dead.Close()
	send = textSEND([]msrp.URI{relayA, deadURI}, "hello?")
	alice.send(send)
	if r := alice.recv(); r.Code != 481 || r.TransactionID != send.TransactionID {
		t.Fatalf("unreachable next hop: %q", r.Bytes())
	}
}

func TestBindingDiesWithConnection(t *testing.T) {
	tr := newTestRelay(t, nil)
	alice := tr.dialWS(t, "alice")
	relayA := alice.bind("alice")
	bob := dialTCP(t, tr.tcp.Addr().String(), "bob", mustURI(t, "msrp://bob.example:7777/b1;tcp"))

	send := textSEND([]msrp.URI{relayA, alice.self}, "one")
	bob.send(send)
	if r := bob.recv(); r.Code != 200 {
		t.Fatalf("while bound: %d", r.Code)
	}
	alice.recv() // and Alice leaves without answering

	alice.ws.Close(websocket.StatusNormalClosure, "bye")
	// The unanswered chunk ends in a REPORT to its sender, not silence.
	if r := bob.recv(); r.Method != "REPORT" || r.Status.Code != 408 || r.MessageID != send.MessageID {
		t.Fatalf("want REPORT 408 for the unanswered chunk, got %q", r.Bytes())
	}
	deadline := time.Now().Add(5 * time.Second)
	for tr.Bindings() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("binding outlived its connection")
		}
		time.Sleep(5 * time.Millisecond)
	}
	send = textSEND([]msrp.URI{relayA, alice.self}, "two")
	bob.send(send)
	if r := bob.recv(); r.Code != 481 || r.TransactionID != send.TransactionID {
		t.Fatalf("after close: %q, want 481", r.Bytes())
	}
	// A new connection cannot take the old URI over.
	alice2 := tr.dialWS(t, "alice2")
	alice2.bind("alice")
	send = textSEND([]msrp.URI{relayA, bob.self}, "hijack")
	alice2.send(send)
	if r := alice2.recv(); r.Code != 481 {
		t.Fatalf("old URI from a new connection: %q", r.Bytes())
	}
}

func TestBadInput(t *testing.T) {
	tr := newTestRelay(t, nil)
	alice := tr.dialWS(t, "alice")
	relayA := alice.bind("alice")
	carol := tr.dialWS(t, "carol")
	relayC := carol.bind("carol")

	// SEND to a session that never existed: 481.
	bogus := relayA
	bogus.SessionID = "nosuchsession"
	send := textSEND([]msrp.URI{msrp.URI{Host: bogus.Host, Port: bogus.Port, SessionID: bogus.SessionID, Transport: "tcp"}, carol.self}, "x")
	alice.send(send)
	if r := alice.recv(); r.Code != 481 {
		t.Fatalf("unknown session: %q", r.Bytes())
	}
	// A malformed but framed message gets 400 with the reason.
	alice.write([]byte("MSRP badx1 SEND\r\nTo-Path: " + relayA.String() + "\r\nFrom-Path: " + alice.self.String() +
		"\r\nByte-Range: 9-1/3\r\n-------badx1$\r\n"))
	if r := alice.recv(); r.Code != 400 || r.TransactionID != "badx1" || !strings.Contains(r.Comment, "Byte-Range") {
		t.Fatalf("malformed: %q", r.Bytes())
	}
	// A To-Path that ends at the relay: 400.
	alice.send(textSEND([]msrp.URI{relayA}, "x"))
	if r := alice.recv(); r.Code != 400 {
		t.Fatalf("To-Path ending at relay: %q", r.Bytes())
	}

	// Garbage that is not MSRP at all closes that connection with 1002 and a reason...
	mallory := tr.dialWS(t, "mallory")
	mallory.write([]byte("GET / HTTP/1.1\r\n\r\n"))
	err := expectClosed(t, mallory)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusProtocolError || !strings.Contains(ce.Reason, "not an MSRP message") {
		t.Fatalf("close: %v", err)
	}
	// ...and a TCP connection that sends garbage is dropped.
	junk := dialTCP(t, tr.tcp.Addr().String(), "junk", mustURI(t, "msrp://j:1/j;tcp"))
	junk.write([]byte("\x00\x01\x02 hello\r\n"))
	expectClosed(t, junk)

	// Other sessions are unharmed.
	alice.send(textSEND([]msrp.URI{relayA, relayC, carol.self}, "still here"))
	if r := alice.recv(); r.Code != 200 {
		t.Fatalf("after bad input: %q", r.Bytes())
	}
	if got := carol.recv(); string(got.Body) != "still here" {
		t.Fatalf("carol got %q", got.Body)
	}
}

func TestProbationClosesSilentConnections(t *testing.T) {
	tr := newTestRelay(t, func(c *Config) { c.Probation = 100 * time.Millisecond })
	silent := dialTCP(t, tr.tcp.Addr().String(), "silent", mustURI(t, "msrp://s:1/s;tcp"))
	expectClosed(t, silent)
}

// TCP → WebSocket with one huge chunk: the relay streams it and re-chunks it toward the
// browser (RFC 7977 §5.1) with right Byte-Ranges and flags; WebSocket → TCP with many chunks.
// Both directions carry 64 MiB and the SHA-256 must match.
func TestLargeTransfers(t *testing.T) {
	const size = 64 << 20
	tr := newTestRelay(t, func(c *Config) { c.TransactionTimeout = 30 * time.Second })
	alice := tr.dialWS(t, "alice")
	relayA := alice.bind("alice")
	bob := newPeer(t, "bob")

	data := make([]byte, size)
	rand.Read(data)
	want := sha256.Sum256(data)

	t.Run("WS to TCP", func(t *testing.T) {
		const chunk = 256 << 10
		msgID := msrp.NewIdent()
		for off := 0; off < size; off += chunk {
			end := min(off+chunk, size)
			flag := msrp.FlagContinue
			if end == size {
				flag = msrp.FlagEnd
			}
			alice.send(&msrp.Message{Method: msrp.MethodSEND, ToPath: []msrp.URI{relayA, bob.uri}, MessageID: msgID,
				ByteRange: &msrp.ByteRange{Start: int64(off) + 1, End: int64(end), Total: size}, ContentType: "application/octet-stream",
				Body: data[off:end], HasBody: true, Flag: flag})
			if r := alice.recv(); r.Code != 200 {
				t.Fatalf("chunk at %d: %d", off, r.Code)
			}
		}
		bc := bob.accept()
		h := sha256.New()
		next := int64(1)
		for next <= size {
			m := bc.recv()
			if m.MessageID != msgID || m.ByteRange.Start != next {
				t.Fatalf("chunk at %d: Byte-Range %s", next, m.ByteRange)
			}
			h.Write(m.Body)
			next += int64(len(m.Body))
			bc.respond(m, 200)
			if next > size && m.Flag != msrp.FlagEnd {
				t.Fatalf("last chunk flag %q", m.Flag)
			}
		}
		if !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatal("SHA-256 differs")
		}
	})

	t.Run("TCP to WS", func(t *testing.T) {
		peerURI := mustURI(t, "msrp://bob.example:7777/bigsender;tcp")
		nc, err := net.Dial("tcp", tr.tcp.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		send := &msrp.Message{TransactionID: msrp.NewTransactionID(data), Method: msrp.MethodSEND,
			ToPath: []msrp.URI{relayA, alice.self}, FromPath: []msrp.URI{peerURI}, MessageID: msrp.NewIdent(),
			ByteRange: &msrp.ByteRange{Start: 1, End: size, Total: size}, ContentType: "application/octet-stream", HasBody: true}
		go func() {
			// One chunk of 64 MiB, written in pieces as a sender streaming a file would.
			nc.Write(send.AppendHead(nil))
			for off := 0; off < size; off += 1 << 20 {
				if _, err := nc.Write(data[off : off+1<<20]); err != nil {
					return
				}
			}
			nc.Write(msrp.AppendEndLine(nil, send.TransactionID, msrp.FlagEnd, true))
		}()
		h := sha256.New()
		next := int64(1)
		for next <= size {
			m := alice.recv()
			if m.MessageID != send.MessageID || m.ByteRange.Start != next || m.ByteRange.Total != size ||
				m.ByteRange.End != next+int64(len(m.Body))-1 || len(m.Body) > 64<<10 {
				t.Fatalf("chunk at %d: Byte-Range %s, %d bytes", next, m.ByteRange, len(m.Body))
			}
			next += int64(len(m.Body))
			if (next <= size) != (m.Flag == msrp.FlagContinue) {
				t.Fatalf("chunk ending at %d has flag %q", next-1, m.Flag)
			}
			h.Write(m.Body)
			alice.respond(m, 200)
		}
		if !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatal("SHA-256 differs")
		}
		rd := msrp.NewReader(nc, 0, 0)
		p, err := rd.Next()
		if err != nil || p.Message.Code != 200 || p.Message.TransactionID != send.TransactionID {
			t.Fatalf("sender's answer: %v %+v", err, p.Message)
		}
	})
}

func TestTLSLegs(t *testing.T) {
	cert, pool := selfSigned(t)
	tr := newTestRelay(t, func(c *Config) { c.TLSConfig = &tls.Config{RootCAs: pool} })
	tlsLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	go tr.ServeTLS(tlsLn)
	for len(tr.ListenerURIs()) < 2 {
		time.Sleep(time.Millisecond)
	}
	alice := tr.dialWS(t, "alice")
	relayA := alice.bind("alice")
	if !relayA.Secure || relayA.Port != tlsLn.Addr().(*net.TCPAddr).Port {
		t.Fatalf("with a TLS listener, WebSocket clients get an msrps Use-Path: %s", relayA)
	}

	// Outbound: the relay dials an msrps:// peer over TLS and checks its certificate.
	bobLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer bobLn.Close()
	bobURI := mustURI(t, fmt.Sprintf("msrps://%s/tlsbob;tcp", bobLn.Addr()))
	acc := make(chan *endpoint, 1)
	go func() {
		c, err := bobLn.Accept()
		if err == nil {
			acc <- streamEndpoint(t, c, "bob", bobURI)
		}
	}()
	alice.send(textSEND([]msrp.URI{relayA, bobURI}, "over TLS"))
	if r := alice.recv(); r.Code != 200 {
		t.Fatalf("answer: %q", r.Bytes())
	}
	bob := <-acc
	got := bob.recv()
	if string(got.Body) != "over TLS" {
		t.Fatalf("bob got %q", got.Bytes())
	}
	bob.respond(got, 200)

	// Inbound: a native client AUTHs over TLS and receives from the browser.
	nc, err := tls.Dial("tcp", tlsLn.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	dave := streamEndpoint(t, nc, "dave", mustURI(t, "msrps://dave.example:9000/dave1;tcp"))
	relayD := dave.bind("bob")
	if !relayD.Secure {
		t.Fatalf("AUTH over TLS gives msrps: %s", relayD)
	}
	alice.send(textSEND([]msrp.URI{relayA, relayD, dave.self}, "to a native client"))
	alice.recv()
	if got := dave.recv(); string(got.Body) != "to a native client" {
		t.Fatalf("dave got %q", got.Bytes())
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	cert := srv.TLS.Certificates[0]
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	srv.Close()
	return cert, pool
}

// A peer that stops reading must not wedge the relay: once a write to it has made no
// progress for WriteTimeout the relay drops that connection and reports the chunks it could
// not deliver, and the sender's connection keeps working.
func TestStuckPeerIsDropped(t *testing.T) {
	tr := newTestRelay(t, func(c *Config) { c.WriteTimeout = 300 * time.Millisecond; c.TransactionTimeout = 30 * time.Second })
	alice := tr.dialWS(t, "alice")
	relayA := alice.bind("alice")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(10 * time.Second) // accepts, never reads
		}
	}()
	sleeper := mustURI(t, fmt.Sprintf("msrp://%s/sleeper;tcp", ln.Addr()))
	body := strings.Repeat("z", 512<<10)
	failures := 0
	for i := 0; i < 64 && failures == 0; i++ {
		alice.send(textSEND([]msrp.URI{relayA, sleeper}, body))
		for {
			m := alice.recv()
			if m.Method == "REPORT" {
				if m.Status.Code != 408 {
					t.Fatalf("REPORT %d, want 408", m.Status.Code)
				}
				failures++
				continue
			}
			// The relay's answer to this SEND: 200, or 408 if the peer was dropped while
			// it was being forwarded.
			if m.Code == 408 {
				failures++
			} else if m.Code != 200 {
				t.Fatalf("answer %d", m.Code)
			}
			break
		}
	}
	if failures == 0 {
		t.Fatal("no failure reported after the peer stopped reading")
	}
	carol := tr.dialWS(t, "carol")
	relayC := carol.bind("carol")
	alice.send(textSEND([]msrp.URI{relayA, relayC, carol.self}, "still alive"))
	for {
		m := alice.recv()
		if m.Method == "" {
			break
		}
	}
	if got := carol.recv(); string(got.Body) != "still alive" {
		t.Fatalf("carol got %q", got.Body)
	}
}

// RFC 4976 §6.3: "the relay MUST ensure that the URI is invalidated after the expiry time".
func TestBindingExpires(t *testing.T) {
	tr := newTestRelay(t, func(c *Config) { c.MinExpires = time.Second })
	alice := tr.dialWS(t, "alice")
	resp := alice.auth("alice", "secret", msrp.Field{Name: "Expires", Value: "1"})
	if resp.Code != 200 {
		t.Fatalf("AUTH: %q", resp.Bytes())
	}
	up, _ := resp.UsePath()
	carol := tr.dialWS(t, "carol")
	relayC := carol.bind("carol")
	time.Sleep(1100 * time.Millisecond)
	alice.send(textSEND([]msrp.URI{up[0], relayC, carol.self}, "too late"))
	if r := alice.recv(); r.Code != 481 {
		t.Fatalf("expired relay URI: %q, want 481", r.Bytes())
	}
	carol.expectNothing(50 * time.Millisecond)
}

// The sweeper must keep working while some connection's writes are stuck: a client that
// stops reading cannot delay anyone else's 408 REPORTs (RFC 4976 §6.4.1).
func TestSweeperNotBlockedByStuckClient(t *testing.T) {
	tr := newTestRelay(t, func(c *Config) { c.TransactionTimeout = 200 * time.Millisecond; c.WriteTimeout = 30 * time.Second })
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepts and reads, never answers
			go io.Copy(io.Discard, c)
		}
	}()
	silentURI := mustURI(t, fmt.Sprintf("msrp://%s/silent;tcp", silent.Addr()))

	// X binds over TCP, then stops reading.
	x := dialTCP(t, tr.tcp.Addr().String(), "x", mustURI(t, "msrp://127.0.0.1:9/x;tcp"))
	relayX := x.bind("alice")
	// A peer floods X until the relay's writes to X block.
	flood := dialTCP(t, tr.tcp.Addr().String(), "flood", mustURI(t, "msrp://127.0.0.1:9/flood;tcp"))
	big := strings.Repeat("f", 256<<10)
	for i := 0; i < 64; i++ {
		m := textSEND([]msrp.URI{relayX, x.self}, big)
		m.FailureReport = "no"
		m.TransactionID = msrp.NewIdent()
		m.FromPath = []msrp.URI{flood.self}
		if _, err := flood.nc.Write(m.Bytes()); err != nil {
			break
		}
	}
	// X sends to a peer that never answers: its transaction expires while X is stuck.
	xs := textSEND([]msrp.URI{relayX, silentURI}, "from x")
	xs.TransactionID = msrp.NewIdent()
	xs.FromPath = []msrp.URI{x.self}
	x.nc.Write(xs.Bytes())
	time.Sleep(500 * time.Millisecond) // the sweeper meets X's expired transaction

	// Carol's own timeout must still be reported.
	carol := tr.dialWS(t, "carol")
	relayC := carol.bind("carol")
	send := textSEND([]msrp.URI{relayC, silentURI}, "anyone?")
	carol.send(send)
	if r := carol.recv(); r.Code != 200 {
		t.Fatalf("answer %d", r.Code)
	}
	if r := carol.recv(); r.Method != "REPORT" || r.Status.Code != 408 || r.MessageID != send.MessageID {
		t.Fatalf("want REPORT 408, got %q", r.Bytes())
	}
}

// RFC 4976 §6.1: only a request that succeeds ends the probation; failed ones do not.
func TestProbationNeedsASuccessfulRequest(t *testing.T) {
	tr := newTestRelay(t, func(c *Config) { c.Probation = 300 * time.Millisecond })
	c := dialTCP(t, tr.tcp.Addr().String(), "c", mustURI(t, "msrp://127.0.0.1:9/c;tcp"))
	bogus := mustURI(t, "msrp://"+tr.tcp.Addr().String()+"/nosuch;tcp")
	c.send(textSEND([]msrp.URI{bogus, c.self}, "x"))
	if r := c.recv(); r.Code != 481 {
		t.Fatalf("answer %d", r.Code)
	}
	expectClosed(t, c)
	// A successful AUTH ends it.
	d := dialTCP(t, tr.tcp.Addr().String(), "d", mustURI(t, "msrp://127.0.0.1:9/d;tcp"))
	d.bind("bob")
	d.expectNothing(600 * time.Millisecond)
	if err := d.closeErr(); err != nil {
		t.Fatalf("closed after a successful AUTH: %v", err)
	}
}

func TestAuthDigestURIMustBeTheToPath(t *testing.T) {
	tr := newTestRelay(t, nil)
	alice := tr.dialWS(t, "alice")
	relayURI := mustURI(t, "msrp://localhost:2855;tcp")
	alice.send(&msrp.Message{Method: msrp.MethodAUTH, ToPath: []msrp.URI{relayURI}})
	wa, _ := alice.recv().Get("WWW-Authenticate")
	a, err := auth.Respond(wa, msrp.MethodAUTH, "msrp://elsewhere.example:9;tcp", "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	alice.send(&msrp.Message{Method: msrp.MethodAUTH, ToPath: []msrp.URI{relayURI},
		Fields: []msrp.Field{{Name: "Authorization", Value: a.Authorization}}})
	if r := alice.recv(); r.Code != 403 {
		t.Fatalf("credentials for another URI: %d, want 403", r.Code)
	}
}

// A failure REPORT's Byte-Range is computed from the data carried (RFC 4975 §7.1.2), even
// when the SEND said 1-*/*; a malformed SEND with Failure-Report: no gets no answer.
func TestReportRangeAndSilentMalformed(t *testing.T) {
	tr := newTestRelay(t, nil)
	alice := tr.dialWS(t, "alice")
	relayA := alice.bind("alice")
	bob := newPeer(t, "bob")
	send := textSEND([]msrp.URI{relayA, bob.uri}, "twelve bytes")
	send.ByteRange = &msrp.ByteRange{Start: 1, End: msrp.Unknown, Total: msrp.Unknown}
	alice.send(send)
	alice.recv()
	bc := bob.accept()
	bc.respond(bc.recv(), 415)
	rep := alice.recv()
	if rep.Method != "REPORT" || rep.ByteRange == nil || rep.ByteRange.String() != "1-12/*" {
		t.Fatalf("REPORT %q, want Byte-Range 1-12/*", rep.Bytes())
	}
	alice.write([]byte("MSRP silent1 SEND\r\nTo-Path: " + relayA.String() + "\r\nFrom-Path: " + alice.self.String() +
		"\r\nFailure-Report: no\r\nByte-Range: 9-1/3\r\n-------silent1$\r\n"))
	alice.expectNothing(100 * time.Millisecond)
}

// Bursts: chunks written back to back, without waiting for answers, are gathered by the relay
// (netbuf) and must all arrive, whole and in order, with every answer — both ways, on a
// WebSocket served as the gateway serves it and on one served without netbuf.
func TestBurstsArriveWholeAndInOrder(t *testing.T) {
	for _, path := range []string{"/", "/plain"} {
		t.Run(path, func(t *testing.T) {
			tr := newTestRelay(t, nil)
			alice := tr.dialWSPath(t, "alice", path)
			relayA := alice.bind("alice")
			bob := newPeer(t, "bob")
			const n = 300
			sent := make([]*msrp.Message, n)
			for i := range n {
				sent[i] = textSEND([]msrp.URI{relayA, bob.uri}, fmt.Sprintf("out %03d %s", i, strings.Repeat("x", i*7)))
				alice.send(sent[i])
			}
			bobConn := bob.accept()
			for i := range n {
				got := bobConn.recv()
				if string(got.Body) != string(sent[i].Body) {
					t.Fatalf("bob's message %d: %.20q, want %.20q", i, got.Body, sent[i].Body)
				}
				bobConn.respond(got, 200)
			}
			for i := range n {
				if r := alice.recv(); r.Code != 200 || r.TransactionID != sent[i].TransactionID {
					t.Fatalf("answer %d: %d %s, want 200 %s", i, r.Code, r.TransactionID, sent[i].TransactionID)
				}
			}
			back := make([]*msrp.Message, n)
			for i := range n {
				back[i] = textSEND([]msrp.URI{relayA, alice.self}, fmt.Sprintf("in %03d %s", i, strings.Repeat("y", i*5)))
				bobConn.send(back[i])
			}
			for i := range n {
				if r := bobConn.recv(); r.Code != 200 || r.TransactionID != back[i].TransactionID {
					t.Fatalf("answer to bob %d: %d", i, r.Code)
				}
				got := alice.recv()
				if string(got.Body) != string(back[i].Body) {
					t.Fatalf("alice's message %d: %.20q, want %.20q", i, got.Body, back[i].Body)
				}
			}
		})
	}
}
