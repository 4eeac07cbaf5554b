package sipua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/simplegw/simplegw/bridge/auth"
)

// waitFor bounds every wait for a message: a deadlock guard, not a speed assertion.
const waitFor = 20 * time.Second

// peer is the proxy side of a test: a UDP socket or an accepted TCP connection that
// sends raw SIP and hands over what the UA sends, parsed.
type peer struct {
	t    *testing.T
	pc   net.PacketConn // UDP
	conn net.Conn       // TCP, once accepted
	ln   net.Listener
	ua   net.Addr // where the UA sends from (UDP)
	msgs chan sip.Message
	// uaAddr returns the UA's address: learned from its socket (UDP) or the accepted
	// connection (TCP).
	uaAddr func() net.Addr
	raw    chan []byte // TCP bytes that are not a message (keepalive answers)
}

func newUDPPeer(t *testing.T) *peer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, pc: pc, msgs: make(chan sip.Message, 100)}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				close(p.msgs)
				return
			}
			m, err := sip.ParseMessage(bytes.Clone(buf[:n]))
			if err != nil {
				t.Errorf("peer: the UA sent an unparsable datagram %q: %v", buf[:n], err)
				continue
			}
			m.SetSource(addr.String())
			p.msgs <- m
		}
	}()
	p.uaAddr = func() net.Addr { return p.ua }
	return p
}

func newTCPPeer(t *testing.T) *peer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, ln: ln, msgs: make(chan sip.Message, 100), raw: make(chan []byte, 10)}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			close(p.msgs)
			return
		}
		accepted <- c
		ps := sip.NewParser().NewSIPStream()
		buf := make([]byte, 65536)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(p.msgs)
				return
			}
			if strings.Trim(string(buf[:n]), "\r\n") == "" {
				p.raw <- bytes.Clone(buf[:n])
				continue
			}
			if err := ps.ParseSIPStream(buf[:n], func(m sip.Message) { p.msgs <- m }); err != nil && !errors.Is(err, sip.ErrParseSipPartial) {
				t.Errorf("peer: %v", err)
			}
		}
	}()
	p.uaAddr = func() net.Addr {
		if p.conn == nil {
			select {
			case p.conn = <-accepted:
				t.Cleanup(func() { p.conn.Close() })
			case <-time.After(waitFor):
				t.Fatal("the UA did not connect")
			}
		}
		return p.conn.RemoteAddr()
	}
	return p
}

func (p *peer) addr() string {
	if p.pc != nil {
		return p.pc.LocalAddr().String()
	}
	return p.ln.Addr().String()
}

// send writes a message (text with LF line ends is converted to CRLF).
func (p *peer) send(msg any) {
	p.t.Helper()
	var b []byte
	switch m := msg.(type) {
	case string:
		b = []byte(strings.ReplaceAll(m, "\n", "\r\n"))
	case sip.Message:
		b = []byte(m.String())
	case []byte:
		b = m
	}
	to := p.uaAddr()
	var err error
	if p.pc != nil {
		_, err = p.pc.WriteTo(b, to)
	} else {
		_, err = p.conn.Write(b)
	}
	if err != nil {
		p.t.Fatal(err)
	}
}

// next returns the next message the UA sent.
func (p *peer) next() sip.Message {
	p.t.Helper()
	select {
	case m, ok := <-p.msgs:
		if !ok {
			p.t.Fatal("the UA's socket closed")
		}
		return m
	case <-time.After(waitFor):
		p.t.Fatal("the UA sent nothing more")
	}
	return nil
}

// request returns the next request of method, skipping responses and other requests.
func (p *peer) request(method sip.RequestMethod) *sip.Request {
	p.t.Helper()
	for {
		if r, ok := p.next().(*sip.Request); ok && r.Method == method {
			return r
		}
	}
}

// response returns the next response with code for method, skipping others.
func (p *peer) response(code int, method sip.RequestMethod) *sip.Response {
	p.t.Helper()
	for {
		if r, ok := p.next().(*sip.Response); ok && r.StatusCode == code && r.CSeq().MethodName == method {
			return r
		}
	}
}

func startUA(t *testing.T, p *peer, cfg Config) *UA {
	t.Helper()
	if cfg.AOR == "" {
		cfg.AOR = "sip:bob@localhost"
	}
	cfg.Proxy = p.addr()
	if p.ln != nil {
		cfg.Transport = "tcp"
	}
	if cfg.T1 == 0 {
		cfg.T1 = 50 * time.Millisecond
		cfg.T2 = 200 * time.Millisecond
	}
	ua, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	if p.pc != nil {
		host, port := ua.tp.local()
		p.ua = &net.UDPAddr{IP: net.ParseIP(host), Port: port}
	}
	return ua
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

func branch(m sip.Message) string {
	var v *sip.ViaHeader
	switch m := m.(type) {
	case *sip.Request:
		v = m.Via()
	case *sip.Response:
		v = m.Via()
	}
	b, _ := v.Params.Get("branch")
	return b
}

func header(m sip.Message, name string) string {
	var h sip.Header
	switch m := m.(type) {
	case *sip.Request:
		h = m.GetHeader(name)
	case *sip.Response:
		h = m.GetHeader(name)
	}
	if h == nil {
		return ""
	}
	return h.Value()
}

func respond(req *sip.Request, code int, reason string, extra ...string) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for i := 0; i+1 < len(extra); i += 2 {
		res.AppendHeader(sip.NewHeader(extra[i], extra[i+1]))
	}
	return res
}

// REGISTER over UDP (RFC 3261 §10.2): a lost request is retransmitted with the same
// branch (Timer E, §17.1.2.2); the 401 is answered with digest credentials the
// registrar's own checker accepts, in a new request with the next CSeq (§22.2); the
// binding is refreshed with the same Call-ID before it expires (§10.2.4) and removed
// with Expires: 0 (§10.2.2).
func TestRegisterRetransmitDigestRefresh(t *testing.T) {
	p := newUDPPeer(t)
	digest := auth.NewDigest("localhost", auth.NewStore(auth.StoreConfig{Users: map[string]string{"bob": "bob-pw"}}))
	ua := startUA(t, p, Config{Password: "bob-pw"})
	done := make(chan error, 1)
	go func() {
		d, err := ua.Register(ctxT(t))
		if err == nil && d != 2*time.Second {
			err = fmt.Errorf("granted %v, want 2s", d)
		}
		done <- err
	}()

	// answer challenges one REGISTER round: 401, then 200 granting 2 s.
	answer := func() *sip.Request {
		r := p.request(sip.REGISTER)
		if header(r, "Authorization") != "" {
			t.Fatalf("credentials reused without a challenge: %s", r)
		}
		p.send(respond(r, 401, "Unauthorized", "WWW-Authenticate", digest.Challenge(false)))
		r2 := p.request(sip.REGISTER)
		if _, err := digest.Verify(header(r2, "Authorization"), "REGISTER", r2.Recipient.String()); err != nil {
			t.Fatalf("credentials refused: %v\n%s", err, r2)
		}
		if r2.CallID().Value() != r.CallID().Value() || r2.CSeq().SeqNo != r.CSeq().SeqNo+1 || branch(r2) == branch(r) {
			t.Errorf("the challenged REGISTER must be resent with the same Call-ID, the next CSeq and a new branch:\n%s\n%s", r, r2)
		}
		res := respond(r2, 200, "OK")
		res.AppendHeader(sip.NewHeader("Contact", "<"+ua.Contact()+">;expires=2"))
		p.send(res)
		return r2
	}

	first := p.request(sip.REGISTER)
	again := p.request(sip.REGISTER) // the first was "lost": Timer E resends it
	if branch(again) != branch(first) || again.CSeq().SeqNo != first.CSeq().SeqNo {
		t.Errorf("retransmission differs: %s vs %s", branch(first), branch(again))
	}
	if v := first.Via(); !v.Params.Has("rport") || v.Transport != "UDP" || v.Host != "127.0.0.1" {
		t.Errorf("Via %s", v.Value())
	}
	if first.Recipient.String() != "sip:localhost" || first.To().Address.String() != "sip:bob@localhost" ||
		header(first, "Expires") != "600" || first.Contact().Address.String() != ua.Contact() {
		t.Errorf("REGISTER built wrongly:\n%s", first)
	}
	p.send(respond(again, 401, "Unauthorized", "WWW-Authenticate", digest.Challenge(false)))
	r2 := p.request(sip.REGISTER)
	if _, err := digest.Verify(header(r2, "Authorization"), "REGISTER", r2.Recipient.String()); err != nil {
		t.Fatalf("credentials refused: %v", err)
	}
	res := respond(r2, 200, "OK")
	res.AppendHeader(sip.NewHeader("Contact", "<sip:bob@10.9.9.9:5060>;expires=3000")) // someone else's binding
	res.AppendHeader(sip.NewHeader("Contact", "<"+ua.Contact()+">;expires=2"))
	p.send(res)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// The refresh, at half the granted interval, challenged again.
	refreshed := answer()
	if refreshed.CallID().Value() != r2.CallID().Value() || refreshed.CSeq().SeqNo <= r2.CSeq().SeqNo {
		t.Errorf("refresh must keep the Call-ID and count CSeq up: %s", refreshed)
	}

	go func() { done <- ua.Unregister(ctxT(t)) }()
	last := answer()
	if header(last, "Expires") != "0" || last.Contact().Address.String() != ua.Contact() {
		t.Errorf("un-REGISTER:\n%s", last)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// 423 is answered once with Min-Expires (RFC 3261 §10.2.8); a 403 is returned.
func TestRegister423And403(t *testing.T) {
	p := newUDPPeer(t)
	ua := startUA(t, p, Config{Expires: 60})
	done := make(chan error, 1)
	go func() { _, err := ua.Register(ctxT(t)); done <- err }()
	r := p.request(sip.REGISTER)
	p.send(respond(r, 423, "Interval Too Brief", "Min-Expires", "1200"))
	r = p.request(sip.REGISTER)
	if header(r, "Expires") != "1200" {
		t.Errorf("after 423: Expires %q, want 1200", header(r, "Expires"))
	}
	p.send(respond(r, 403, "Forbidden"))
	var se *StatusError
	if err := <-done; !errors.As(err, &se) || se.Code != 403 {
		t.Errorf("Register: %v, want 403", err)
	}
}

const offerSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=message 7394 TCP/MSRP *\r\na=accept-types:text/plain\r\na=path:msrp://127.0.0.1:7394/alicesess;tcp\r\na=setup:actpass\r\n"

// invite is an INVITE from the peer to the UA, through two Record-Route entries.
func invite(p *peer, branch, callID string) string {
	return "INVITE sip:bob@127.0.0.1 SIP/2.0\n" +
		"Via: SIP/2.0/UDP " + p.addr() + ";branch=" + branch + "\n" +
		"Record-Route: <sip:p1@" + p.addr() + ";lr>, <sip:p2@" + p.addr() + ";lr>\n" +
		"Max-Forwards: 70\n" +
		"From: <sip:alice@localhost>;tag=alicetag\n" +
		"To: <sip:bob@localhost>\n" +
		"Call-ID: " + callID + "\n" +
		"CSeq: 1 INVITE\n" +
		"Contact: <sip:alice@127.0.0.1:9999>\n" +
		"Content-Type: application/sdp\n" +
		"Content-Length: " + fmt.Sprint(len(offerSDP)) + "\n\n" + strings.ReplaceAll(offerSDP, "\r\n", "\n")
}

// An incoming call (RFC 3261 §13.3): 100, 180 and 200 with one To tag, Record-Route
// copied; the 200 is retransmitted until the ACK (§13.3.1.4), a retransmitted INVITE
// is answered with it again (§17.2.1); the peer's BYE ends the call (§15.1.2).
func TestIncomingCall(t *testing.T) {
	p := newUDPPeer(t)
	calls := make(chan *Call, 1)
	var offer []byte
	startUA(t, p, Config{OnInvite: func(ic *IncomingCall) {
		offer = ic.Offer()
		if ic.From() != "sip:alice@localhost" || ic.ContentType() != "application/sdp" {
			t.Errorf("incoming call from %s, %s", ic.From(), ic.ContentType())
		}
		if err := ic.Ring(); err != nil {
			t.Error(err)
		}
		c, err := ic.Answer("", []byte("answer-body"))
		if err != nil {
			t.Error(err)
		}
		calls <- c
	}})
	p.send(invite(p, "z9hG4bKinv1", "call-1"))
	p.response(100, sip.INVITE)
	ringing := p.response(180, sip.INVITE)
	ok := p.response(200, sip.INVITE)
	tag := toTag(ringing)
	if tag == "" || toTag(ok) != tag {
		t.Errorf("To tags: 180 %q, 200 %q", tag, toTag(ok))
	}
	if rr := ok.GetHeaders("Record-Route"); len(rr) != 2 || !strings.Contains(rr[0].Value(), "p1@") {
		t.Errorf("Record-Route not copied: %v", rr)
	}
	if string(ok.Body()) != "answer-body" || header(ok, "Content-Type") != "application/sdp" || ok.Contact() == nil {
		t.Errorf("200:\n%s", ok)
	}
	c := <-calls
	if string(offer) != offerSDP || string(c.RemoteSDP()) != offerSDP {
		t.Errorf("offer %q", offer)
	}
	again := p.response(200, sip.INVITE) // no ACK yet: retransmitted
	if toTag(again) != tag {
		t.Errorf("retransmitted 200 has tag %q", toTag(again))
	}
	p.send(invite(p, "z9hG4bKinv1", "call-1")) // a retransmitted INVITE
	p.response(200, sip.INVITE)
	select {
	case <-c.Confirmed():
		t.Fatal("confirmed without an ACK")
	default:
	}
	p.send("ACK sip:bob@127.0.0.1 SIP/2.0\n" +
		"Via: SIP/2.0/UDP " + p.addr() + ";branch=z9hG4bKack1\n" +
		"Max-Forwards: 70\nFrom: <sip:alice@localhost>;tag=alicetag\nTo: <sip:bob@localhost>;tag=" + tag + "\n" +
		"Call-ID: call-1\nCSeq: 1 ACK\nContent-Length: 0\n\n")
	select {
	case <-c.Confirmed():
	case <-time.After(waitFor):
		t.Fatal("the ACK did not confirm the call")
	}
	p.send("BYE sip:bob@127.0.0.1 SIP/2.0\n" +
		"Via: SIP/2.0/UDP " + p.addr() + ";branch=z9hG4bKbye1\n" +
		"Max-Forwards: 70\nFrom: <sip:alice@localhost>;tag=alicetag\nTo: <sip:bob@localhost>;tag=" + tag + "\n" +
		"Call-ID: call-1\nCSeq: 2 BYE\nContent-Length: 0\n\n")
	p.response(200, sip.BYE)
	select {
	case <-c.Done():
	case <-time.After(waitFor):
		t.Fatal("BYE did not end the call")
	}
	if c.Reason() != EndRemoteBye {
		t.Errorf("reason %q", c.Reason())
	}
	// The dialog is gone: another BYE gets 481 (RFC 3261 §12.2.2).
	p.send("BYE sip:bob@127.0.0.1 SIP/2.0\n" +
		"Via: SIP/2.0/UDP " + p.addr() + ";branch=z9hG4bKbye2\n" +
		"Max-Forwards: 70\nFrom: <sip:alice@localhost>;tag=alicetag\nTo: <sip:bob@localhost>;tag=" + tag + "\n" +
		"Call-ID: call-1\nCSeq: 3 BYE\nContent-Length: 0\n\n")
	p.response(481, sip.BYE)
}

// CANCEL of a ringing call (RFC 3261 §9.2): 200 to the CANCEL, 487 to the INVITE,
// retransmitted until its ACK (§17.2.1 Timer G); the application sees Canceled, and
// a late Answer fails with ErrCanceled. A CANCEL matching nothing gets 481.
func TestCancel(t *testing.T) {
	p := newUDPPeer(t)
	answered := make(chan error, 1)
	startUA(t, p, Config{OnInvite: func(ic *IncomingCall) {
		ic.Ring()
		<-ic.Canceled()
		_, err := ic.Answer("", []byte("late"))
		answered <- err
	}})
	p.send(invite(p, "z9hG4bKinv2", "call-2"))
	p.response(180, sip.INVITE)
	p.send("CANCEL sip:bob@127.0.0.1 SIP/2.0\n" +
		"Via: SIP/2.0/UDP " + p.addr() + ";branch=z9hG4bKinv2\n" +
		"Max-Forwards: 70\nFrom: <sip:alice@localhost>;tag=alicetag\nTo: <sip:bob@localhost>\n" +
		"Call-ID: call-2\nCSeq: 1 CANCEL\nContent-Length: 0\n\n")
	var got200, got487 bool
	for !got200 || !got487 {
		res, ok := p.next().(*sip.Response)
		if !ok {
			continue
		}
		switch {
		case res.StatusCode == 200 && res.CSeq().MethodName == sip.CANCEL:
			got200 = true
		case res.StatusCode == 487 && res.CSeq().MethodName == sip.INVITE:
			got487 = true
		case res.StatusCode >= 200:
			t.Fatalf("unexpected %s", res.StartLine())
		}
	}
	if err := <-answered; !errors.Is(err, ErrCanceled) {
		t.Errorf("Answer after CANCEL: %v", err)
	}
	p.response(487, sip.INVITE) // not acknowledged yet: Timer G resends it
	p.send("ACK sip:bob@127.0.0.1 SIP/2.0\n" +
		"Via: SIP/2.0/UDP " + p.addr() + ";branch=z9hG4bKinv2\n" +
		"Max-Forwards: 70\nFrom: <sip:alice@localhost>;tag=alicetag\nTo: <sip:bob@localhost>;tag=x\n" +
		"Call-ID: call-2\nCSeq: 1 ACK\nContent-Length: 0\n\n")

	p.send("CANCEL sip:bob@127.0.0.1 SIP/2.0\n" +
		"Via: SIP/2.0/UDP " + p.addr() + ";branch=z9hG4bKnothing\n" +
		"Max-Forwards: 70\nFrom: <sip:alice@localhost>;tag=alicetag\nTo: <sip:bob@localhost>\n" +
		"Call-ID: call-3\nCSeq: 1 CANCEL\nContent-Length: 0\n\n")
	p.response(481, sip.CANCEL)
}

// Without an ACK the 200 is retransmitted for 64*T1, then the call is ended with BYE
// (RFC 3261 §13.3.1.4), sent along the route set (§12.2.1.1).
func TestNoAckEndsCall(t *testing.T) {
	p := newUDPPeer(t)
	calls := make(chan *Call, 1)
	startUA(t, p, Config{T1: 10 * time.Millisecond, T2: 40 * time.Millisecond, OnInvite: func(ic *IncomingCall) {
		c, _ := ic.Answer("", []byte("a"))
		calls <- c
	}})
	p.send(invite(p, "z9hG4bKinv3", "call-3"))
	bye := p.request(sip.BYE)
	if bye.Recipient.String() != "sip:alice@127.0.0.1:9999" {
		t.Errorf("BYE Request-URI %s, want the remote target", bye.Recipient.String())
	}
	if r := bye.GetHeaders("Route"); len(r) != 2 || !strings.Contains(r[0].Value(), "p1@") || !strings.Contains(r[1].Value(), "p2@") {
		t.Errorf("BYE Route %v, want the Record-Route in order", r)
	}
	p.send(respond(bye, 200, "OK"))
	c := <-calls
	<-c.Done()
	if c.Reason() != EndNoAck {
		t.Errorf("reason %q", c.Reason())
	}
}

// An outgoing call (RFC 3261 §13.2): a 407 is acknowledged by the transaction
// (§17.1.1.3) and answered with Proxy-Authorization in a new INVITE (§22.3); the 2xx
// is acknowledged along the reversed Record-Route to its Contact (§12.1.2, §13.2.2.4),
// again for each retransmission; a 2xx from another fork is acknowledged and ended with
// BYE; Bye ends the call.
func TestOutgoingCall(t *testing.T) {
	p := newUDPPeer(t)
	digest := auth.NewDigest("localhost", auth.NewStore(auth.StoreConfig{Users: map[string]string{"bob": "pw"}}))
	ua := startUA(t, p, Config{Password: "pw"})
	type result struct {
		c   *Call
		err error
	}
	done := make(chan result, 1)
	var provisional []int
	go func() {
		c, err := ua.Invite(ctxT(t), "alice", []byte(offerSDP), InviteOptions{OnProvisional: func(code int, _ string) {
			provisional = append(provisional, code)
		}})
		done <- result{c, err}
	}()
	inv := p.request(sip.INVITE)
	if inv.Recipient.String() != "sip:alice@localhost" || string(inv.Body()) != offerSDP ||
		header(inv, "Content-Type") != "application/sdp" || inv.Contact() == nil || fromTag(inv) == "" {
		t.Errorf("INVITE:\n%s", inv)
	}
	p.send(respond(inv, 407, "Proxy Authentication Required", "Proxy-Authenticate", digest.Challenge(false)))
	ack := p.request(sip.ACK)
	if branch(ack) != branch(inv) || ack.CSeq().SeqNo != 1 || toTag(ack) == "" {
		t.Errorf("ACK of the 407 must belong to the INVITE's transaction:\n%s", ack)
	}
	inv2 := p.request(sip.INVITE)
	if _, err := digest.Verify(header(inv2, "Proxy-Authorization"), "INVITE", inv2.Recipient.String()); err != nil {
		t.Fatalf("Proxy-Authorization refused: %v\n%s", err, inv2)
	}
	if inv2.CSeq().SeqNo != 2 || inv2.CallID().Value() != inv.CallID().Value() || fromTag(inv2) != fromTag(inv) {
		t.Errorf("second INVITE:\n%s", inv2)
	}
	p.send(respond(inv2, 180, "Ringing"))
	ok := respond(inv2, 200, "OK", "Contact", "<sip:alice@127.0.0.1:9999>", "Content-Type", "application/sdp",
		"Record-Route", "<sip:p1@"+p.addr()+";lr>", "Record-Route", "<sip:p2@"+p.addr()+";lr>")
	ok.SetBody([]byte("answer"))
	p.send(ok)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	c := r.c
	if len(provisional) != 1 || provisional[0] != 180 {
		t.Errorf("provisional responses %v", provisional)
	}
	if string(c.RemoteSDP()) != "answer" || c.Remote() != "sip:alice@localhost" {
		t.Errorf("call: %q %s", c.RemoteSDP(), c.Remote())
	}
	ack2 := p.request(sip.ACK)
	if ack2.Recipient.String() != "sip:alice@127.0.0.1:9999" || ack2.CSeq().SeqNo != 2 || toTag(ack2) != toTag(ok) ||
		branch(ack2) == branch(inv2) || header(ack2, "Proxy-Authorization") == "" {
		t.Errorf("ACK of the 2xx:\n%s", ack2)
	}
	if rt := ack2.GetHeaders("Route"); len(rt) != 2 || !strings.Contains(rt[0].Value(), "p2@") {
		t.Errorf("ACK Route %v, want the Record-Route reversed", rt)
	}
	p.send(ok) // retransmitted 2xx: acknowledged again
	if again := p.request(sip.ACK); branch(again) != branch(ack2) {
		t.Errorf("re-ACK differs")
	}

	fork := respond(inv2, 200, "OK", "Contact", "<sip:alice@127.0.0.1:9998>")
	fork.To().Params.Add("tag", "otherfork")
	p.send(fork)
	if a := p.request(sip.ACK); toTag(a) != "otherfork" {
		t.Errorf("ACK of the fork has tag %q", toTag(a))
	}
	fb := p.request(sip.BYE)
	if toTag(fb) != "otherfork" || fb.Recipient.String() != "sip:alice@127.0.0.1:9998" {
		t.Errorf("BYE of the fork:\n%s", fb)
	}
	p.send(respond(fb, 200, "OK"))

	byeDone := make(chan error, 1)
	go func() { byeDone <- c.Bye(ctxT(t)) }()
	bye := p.request(sip.BYE)
	if toTag(bye) != toTag(ok) || bye.CSeq().SeqNo != 3 || len(bye.GetHeaders("Route")) != 2 {
		t.Errorf("BYE:\n%s", bye)
	}
	p.send(respond(bye, 200, "OK"))
	if err := <-byeDone; err != nil || c.Reason() != EndLocalBye {
		t.Errorf("Bye: %v, reason %q", err, c.Reason())
	}
}

// A refused call is a *StatusError; a canceled one sends CANCEL only after a
// provisional response (RFC 3261 §9.1) and returns ErrCanceled.
func TestInviteRefusedAndCanceled(t *testing.T) {
	p := newUDPPeer(t)
	ua := startUA(t, p, Config{})
	errs := make(chan error, 1)
	go func() {
		_, err := ua.Invite(ctxT(t), "sip:carol@localhost", []byte(offerSDP), InviteOptions{})
		errs <- err
	}()
	inv := p.request(sip.INVITE)
	p.send(respond(inv, 486, "Busy Here"))
	var se *StatusError
	if err := <-errs; !errors.As(err, &se) || se.Code != 486 {
		t.Errorf("Invite: %v, want 486", err)
	}
	p.request(sip.ACK)

	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, err := ua.Invite(ctx, "carol", []byte(offerSDP), InviteOptions{}); errs <- err }()
	inv = p.request(sip.INVITE)
	cancel()
	p.send(respond(inv, 100, "Trying")) // the CANCEL may go now
	c := p.request(sip.CANCEL)
	if branch(c) != branch(inv) || c.CSeq().SeqNo != inv.CSeq().SeqNo || c.CallID().Value() != inv.CallID().Value() {
		t.Errorf("CANCEL does not match the INVITE:\n%s", c)
	}
	p.send(respond(c, 200, "OK"))
	p.send(respond(inv, 487, "Request Terminated"))
	if err := <-errs; !errors.Is(err, ErrCanceled) {
		t.Errorf("Invite: %v, want ErrCanceled", err)
	}
}

// Requests the UA does not take (RFC 3261 §8.2): unknown methods 405 with Allow,
// unknown extensions in Require 420 with Unsupported, OPTIONS 200; over TCP, with a
// double-CRLF keepalive answered by CRLF (RFC 5626 §4.4.1) and a message split across
// segments.
func TestOtherRequestsOverTCP(t *testing.T) {
	p := newTCPPeer(t)
	ua := startUA(t, p, Config{})
	go ua.Register(context.Background())
	if r := p.request(sip.REGISTER); r.Via().Transport != "TCP" || !strings.Contains(ua.Contact(), "transport=tcp") {
		t.Errorf("Via %s, Contact %s", r.Via().Value(), ua.Contact())
	}
	p.send([]byte("\r\n\r\n"))
	select {
	case b := <-p.raw:
		if string(b) != "\r\n" {
			t.Errorf("keepalive answered %q", b)
		}
	case <-time.After(waitFor):
		t.Fatal("keepalive not answered")
	}
	req := func(method, branch, extra string) string {
		return method + " sip:bob@127.0.0.1 SIP/2.0\n" +
			"Via: SIP/2.0/TCP " + p.addr() + ";branch=" + branch + "\n" +
			"Max-Forwards: 70\nFrom: <sip:alice@localhost>;tag=a\nTo: <sip:bob@localhost>\n" +
			"Call-ID: misc\nCSeq: 1 " + method + "\n" + extra + "Content-Length: 0\n\n"
	}
	opts := strings.ReplaceAll(req("OPTIONS", "z9hG4bKo1", ""), "\n", "\r\n")
	p.send([]byte(opts[:20]))
	p.send([]byte(opts[20:]))
	if res := p.response(200, sip.OPTIONS); !strings.Contains(header(res, "Allow"), "INVITE") {
		t.Errorf("OPTIONS: %s", res)
	}
	p.send(req("MESSAGE", "z9hG4bKm1", ""))
	if res := p.response(405, sip.MESSAGE); header(res, "Allow") == "" {
		t.Errorf("405 without Allow")
	}
	p.send(req("INVITE", "z9hG4bKi1", "Require: 100rel, foo\n"))
	if res := p.response(420, sip.INVITE); header(res, "Unsupported") != "100rel, foo" {
		t.Errorf("420 Unsupported %q", header(res, "Unsupported"))
	}
	// The connection goes: the UA says so.
	p.conn.Close()
	select {
	case <-ua.Done():
		if err := ua.Err(); !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "lost") {
			t.Errorf("Err %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("the UA did not notice the lost connection")
	}
}

// RFC 3261 §12.2.1.1: with a strict router first in the route set, it becomes the
// Request-URI and the remote target goes last in Route.
func TestStrictRouting(t *testing.T) {
	p := newUDPPeer(t)
	ua := startUA(t, p, Config{})
	var p1, p2, target sip.Uri
	sip.ParseUri("sip:proxy1.example.com", &p1)
	sip.ParseUri("sip:proxy2.example.com;lr", &p2)
	sip.ParseUri("sip:user@remoteua.example.com", &target)
	c := &Call{ua: ua, callID: "x", localTag: "l", remoteTag: "r", localURI: ua.aor, remoteURI: target,
		routeSet: []sip.Uri{p1, p2}, remoteTarget: target}
	req := c.newRequest(sip.BYE, 5)
	routes := req.GetHeaders("Route")
	if req.Recipient.String() != "sip:proxy1.example.com" || len(routes) != 2 ||
		routes[0].Value() != "<sip:proxy2.example.com;lr>" || routes[1].Value() != "<sip:user@remoteua.example.com>" {
		t.Errorf("strict routing: %s %v", req.Recipient.String(), routes)
	}
	c.routeSet = []sip.Uri{p2, p1}
	req = c.newRequest(sip.BYE, 6)
	if req.Recipient.String() != "sip:user@remoteua.example.com" || len(req.GetHeaders("Route")) != 2 {
		t.Errorf("loose routing: %s", req)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{AOR: "bob", Proxy: "127.0.0.1:1"},
		{AOR: "sip:localhost", Proxy: "127.0.0.1:1"},
		{AOR: "sip:bob@localhost", Proxy: "127.0.0.1:1", Transport: "sctp"},
		{AOR: "sip:bob@localhost", Proxy: "127.0.0.1:1", Password: "a\r\nb"},
	} {
		if ua, err := New(context.Background(), cfg); err == nil {
			ua.Close()
			t.Errorf("%+v accepted", cfg)
		}
	}
}
