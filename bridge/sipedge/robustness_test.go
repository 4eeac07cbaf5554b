package sipedge

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// callerFlow returns the flow the only pending proxied INVITE came from.
func callerFlow(t *testing.T, h *harness) *flow {
	t.Helper()
	h.e.txMu.Lock()
	defer h.e.txMu.Unlock()
	if len(h.e.proxies) != 1 {
		t.Fatalf("%d proxied INVITEs pending, want 1", len(h.e.proxies))
	}
	for _, pc := range h.e.proxies {
		return pc.u.in
	}
	return nil
}

// awaitClosed waits until the edge has closed f.
func awaitClosed(t *testing.T, f *flow) {
	t.Helper()
	select {
	case <-f.done:
	case <-time.After(waitFor):
		t.Fatal("the edge did not notice the closed connection")
	}
}

// expectOptionsAnswered sends an OPTIONS to the edge from p and waits for
// its answer, skipping anything else p receives.
func expectOptionsAnswered(t *testing.T, p *peer) {
	t.Helper()
	o := p.newRequest("OPTIONS", "sip:localhost")
	p.send(o.String())
	deadline := time.After(waitFor)
	for {
		select {
		case m := <-p.msgs:
			if r, ok := m.(*sip.Response); ok && r.CallID().Value() == o.CallID {
				if r.StatusCode != 200 {
					t.Fatalf("OPTIONS: got %d, want 200", r.StatusCode)
				}
				return
			}
		case <-deadline:
			t.Fatalf("%s: OPTIONS to the edge never answered: a reader is wedged", p.name)
		}
	}
}

// The caller's connection closes while the INVITE rings at a UDP callee.
// Relaying the callee's 180 fails on the closed flow, which ends the server
// transaction; its termination hook must not take the proxy context's lock
// on the goroutine that holds it. The callee is canceled (RFC 3261 §16.10),
// its 487 is absorbed, and the UDP reader keeps serving everyone else.
func TestCallerGoneWhileRinging(t *testing.T) {
	h := newHarness(t)
	alice, _ := registeredPair(t, h)
	carol := h.dialUDP("carol")
	carol.register("carol", "carol-pw", 600)
	_, req := invite(t, alice, carol, "carol")
	af := callerFlow(t, h)
	alice.close()
	awaitClosed(t, af)

	carol.reply(req, 180, "Ringing", "ct", []string{"Contact: <" + carol.contact + ">"}, "")
	cancel := carol.expectRequest(sip.CANCEL)
	carol.reply(cancel, 200, "OK", "ct", nil, "")
	carol.reply(req, 487, "Request Terminated", "ct", nil, "")
	if ack := carol.expectRequest(sip.ACK); ack.CSeq().SeqNo != req.CSeq().SeqNo {
		t.Fatalf("ACK of the 487 has CSeq %d, want %d", ack.CSeq().SeqNo, req.CSeq().SeqNo)
	}

	dave := h.dialUDP("dave")
	expectOptionsAnswered(t, dave)
	expectOptionsAnswered(t, carol)
}

// A send that times out on a full queue closes the flow on another
// goroutine: the flow's cleanup takes locks (the edge's transaction table,
// proxy contexts) that the sender may hold.
func TestSendTimeoutClosesAsync(t *testing.T) {
	h := newHarness(t)
	f := &flow{e: h.e, transport: "TCP", remote: "192.0.2.1:5060",
		out: make(chan []byte), done: make(chan struct{}), closeFn: func(string) {}}

	h.e.txMu.Lock() // flowClosed needs it
	errc := make(chan error, 1)
	go func() { errc <- f.send([]byte("x")) }()
	var err error
	select {
	case err = <-errc:
	case <-time.After(sendTimeout + waitFor):
	}
	h.e.txMu.Unlock()
	if err == nil {
		t.Fatal("send on a full, stuck queue did not return while the flow's cleanup was blocked")
	}
	if err != errFlowClosed {
		t.Fatalf("send: %v, want errFlowClosed", err)
	}
	awaitClosed(t, f)
}

// Responses without Call-ID, From, To or CSeq (RFC 3261 §8.1.1) or with a
// status outside 100-699 (§7.2) are dropped before they reach a
// transaction; the valid 2xx that follows goes through.
func TestResponseMissingHeadersDropped(t *testing.T) {
	h := newHarness(t)
	alice, bob := registeredPair(t, h)
	_, req := invite(t, alice, bob, "bob")
	good := replyText(req, 200, "OK", "bt", []string{"Contact: <" + bob.contact + ">", "Content-Type: application/sdp"},
		"v=0\r\nm=message 9 TCP/MSRP *\r\nbogus line\r\n") // sdp.Check fails: logged with the Call-ID
	for _, drop := range []string{"Call-ID", "From", "To", "CSeq"} {
		var b strings.Builder
		for _, line := range strings.Split(good, "\r\n") {
			if !strings.HasPrefix(line, drop+":") {
				b.WriteString(line + "\r\n")
			}
		}
		bob.send(strings.TrimSuffix(b.String(), "\r\n"))
	}
	for _, status := range []string{"099 Odd", "700 Odd", "999 Whatever"} {
		bob.send(strings.Replace(good, "SIP/2.0 200 OK", "SIP/2.0 "+status, 1))
	}
	bob.send(good)
	res := alice.expectResponse(200)
	if res.CallID() == nil || res.CallID().Value() != req.CallID().Value() {
		t.Fatalf("the relayed 2xx is not the valid one:\n%s", res)
	}
}

// A panicking handler on a recovered goroutine is logged, and the process
// and the edge go on.
func TestRecoveredGoroutine(t *testing.T) {
	h := newHarness(t)
	done := make(chan struct{})
	h.e.goSafe("test", func() {
		defer close(done)
		var m *sip.Response
		_ = m.CallID().Value()
	})
	<-done
	fired := make(chan struct{})
	h.e.afterFunc(0, "test timer", func() {
		defer close(fired)
		panic("boom")
	})
	<-fired
	expectOptionsAnswered(t, h.dialUDP("dave"))
}

// An ACK for a 2xx that reuses the INVITE's branch matches the server
// transaction in the Accepted state (RFC 6026 §7.1); it is a 2xx ACK and is
// forwarded along its route, not parked in the transaction until Timer L.
func TestAckOfAcceptedInviteForwarded(t *testing.T) {
	h := newHarness(t)
	alice, bob := registeredPair(t, h)
	inv, req := invite(t, alice, bob, "bob")
	bob.reply(req, 200, "OK", "bobtag", []string{"Contact: <" + bob.contact + ">", "Content-Type: application/sdp"}, msrpAnswer)
	res := alice.expectResponse(200)
	ack := callerDialog(alice, inv, res).request("ACK")
	ack.Via = inv.Via // same branch as the INVITE
	alice.send(ack.String())
	got := bob.expectRequest(sip.ACK)
	if got.CallID().Value() != inv.CallID {
		t.Fatalf("ACK for another call: %s", got.CallID().Value())
	}
	h.e.txMu.Lock()
	stx := h.e.serverTx[serverTxKey(req, sip.ACK)]
	h.e.txMu.Unlock()
	if stx != nil {
		select {
		case a := <-stx.Acks():
			t.Fatalf("the ACK was also handed to the server transaction: %s", a.StartLine())
		default:
		}
	}
}

// RFC 3261 §16.3 item 3: an ACK with Max-Forwards 0 is not forwarded (and,
// being an ACK, not answered); the next one is, with the count decremented.
func TestAckMaxForwardsZeroDropped(t *testing.T) {
	h := newHarness(t)
	alice := h.dialWS("alice")
	alice.register("alice", "alice-pw", 600) // only registered clients relay
	carol := h.dialUDP("carol")
	send := func(mf int) *out {
		o := alice.newRequest("ACK", "sip:carol@"+carol.viaHost)
		o.To += ";tag=x"
		alice.send(strings.Replace(o.String(), "Max-Forwards: 70", fmt.Sprintf("Max-Forwards: %d", mf), 1))
		return o
	}
	send(0)
	second := send(5)
	ack := carol.expectRequest(sip.ACK)
	if ack.CallID().Value() != second.CallID {
		t.Fatalf("the ACK with Max-Forwards 0 was forwarded:\n%s", ack)
	}
	if mf := ack.MaxForwards(); mf == nil || mf.Val() != 4 {
		t.Fatalf("Max-Forwards %v, want 4", ack.MaxForwards())
	}
}

// registerExpect registers contact for user over p and returns the final
// answer to the authenticated REGISTER.
func registerExpect(p *peer, user, password, contact string) *sip.Response {
	p.t.Helper()
	o := p.newRequest("REGISTER", "sip:localhost")
	o.From = "<sip:" + user + "@localhost>;tag=" + randHex(4)
	o.To = "<sip:" + user + "@localhost>"
	o.Headers = []string{"Contact: <" + contact + ">;expires=600"}
	p.send(o.String())
	res := p.response()
	if res.StatusCode != 401 {
		return res
	}
	o.CSeq++
	o.Via = p.via()
	o.Headers = append(o.Headers, "Authorization: "+digestResponse(p.t, headerValue(res, "WWW-Authenticate"), user, password, "REGISTER", "sip:localhost"))
	p.send(o.String())
	return p.response()
}

// A browser's ".invalid" contact is reachable only over its own connection
// (RFC 7118 §5): another connection registering it, under any AOR, is
// refused, and requests for it keep reaching the browser that owns it.
func TestContactOfAnotherConnectionRefused(t *testing.T) {
	h := newHarness(t)
	alice := h.dialWS("alice")
	alice.register("alice", "alice-pw", 600)
	mallory := h.dialWS("mallory")
	if res := registerExpect(mallory, "dave", "dave-pw", alice.contact); res.StatusCode != 403 {
		t.Fatalf("registering another connection's contact: got %d, want 403", res.StatusCode)
	}
	// Alice herself may refresh it over her own connection.
	if res := registerExpect(alice, "alice", "alice-pw", alice.contact); res.StatusCode != 200 {
		t.Fatalf("refresh: got %d, want 200", res.StatusCode)
	}
	carol := h.dialUDP("carol")
	carol.register("carol", "carol-pw", 600) // her From is a local AOR
	for i := range 5 {
		o := carol.newRequest("MESSAGE", alice.contact)
		o.Body = fmt.Sprint(i)
		carol.send(o.String())
		r := alice.expectRequest(sip.MESSAGE)
		alice.send(replyText(r, 200, "OK", "a", nil, ""))
		carol.expectResponse(200)
	}
	if !mallory.nothing() {
		t.Fatalf("mallory received %v", <-mallory.msgs)
	}
	// Once Alice's connection is gone, her contact is free again.
	af := h.e.reg.flowForContact(mustURI(t, alice.contact))
	alice.close()
	awaitClosed(t, af)
	if res := registerExpect(mallory, "dave", "dave-pw", alice.contact); res.StatusCode != 200 {
		t.Fatalf("after the owner left: got %d, want 200", res.StatusCode)
	}
}

func mustURI(t *testing.T, s string) *sip.Uri {
	t.Helper()
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		t.Fatal(err)
	}
	return &u
}

// readUntil reads c until what it read so far satisfies done.
func readUntil(t *testing.T, c net.Conn, done func([]byte) bool) []byte {
	t.Helper()
	var acc []byte
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(waitFor))
	for !done(acc) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read after %q: %v", acc, err)
		}
		acc = append(acc, buf[:n]...)
	}
	return acc
}

// RFC 5626 §4.4.1: every double-CRLF ping on a stream gets a CRLF pong,
// also one that arrives in the same segment as the end of a message, and
// the pings after it.
func TestTCPKeepaliveAfterMessage(t *testing.T) {
	h := newHarness(t)
	c, err := net.Dial("tcp", h.tcpAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := &peer{t: t, name: "carol", transport: "TCP", viaHost: c.LocalAddr().String(),
		contact: "sip:carol@" + c.LocalAddr().String() + ";transport=tcp"}
	o := p.newRequest("OPTIONS", "sip:localhost")
	if _, err := c.Write([]byte(o.String() + "\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	// The 200 has no body: its header section ends with CRLFCRLF, the pong
	// adds CRLF.
	got := readUntil(t, c, func(b []byte) bool { return bytes.HasSuffix(b, []byte("\r\n\r\n\r\n")) })
	if !bytes.HasPrefix(got, []byte("SIP/2.0 200 ")) || !bytes.HasSuffix(got, []byte("Content-Length: 0\r\n\r\n\r\n")) {
		t.Fatalf("want the 200 then the pong, got %q", got)
	}
	for _, ping := range [][]string{{"\r\n\r\n"}, {"\r\n", "\r\n"}, {"\r\n\r", "\n"}} {
		for _, part := range ping {
			if _, err := c.Write([]byte(part)); err != nil {
				t.Fatal(err)
			}
		}
		if got := readUntil(t, c, func(b []byte) bool { return len(b) >= 2 }); string(got) != "\r\n" {
			t.Fatalf("ping %q: got %q, want a CRLF pong", ping, got)
		}
	}
	o = p.newRequest("OPTIONS", "sip:localhost")
	if _, err := c.Write([]byte(o.String())); err != nil {
		t.Fatal(err)
	}
	got = readUntil(t, c, func(b []byte) bool { return bytes.HasSuffix(b, []byte("\r\n\r\n")) })
	if !bytes.HasPrefix(got, []byte("SIP/2.0 200 ")) {
		t.Fatalf("the connection no longer carries SIP: %q", got)
	}
}
