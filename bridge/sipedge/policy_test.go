package sipedge

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// listenVictim is a UDP socket standing for a host the edge must not be made
// to reach (RFC 3261 §26.3.2.4).
func listenVictim(t *testing.T) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// expectNothingQueued checks that pc has no datagram waiting. Callers make
// sure the edge has already decided (its answer was received), and the edge
// sends before it answers, so no wait is needed.
func expectNothingQueued(t *testing.T, pc net.PacketConn) {
	t.Helper()
	pc.SetReadDeadline(time.Now())
	buf := make([]byte, 65536)
	if n, _, err := pc.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("unexpected datagram (%d bytes, err %v): %q", n, err, buf[:n])
	}
}

func expectReason(t *testing.T, res *sip.Response, reason string) {
	t.Helper()
	if res.Reason != reason {
		t.Fatalf("reason %q, want %q", res.Reason, reason)
	}
}

// RFC 3261 §26.3.2.2, RFC 3428 §11.1: a request with a local From is
// forwarded only from a flow that registered that very AOR.
func TestPolicyFromSpoofing(t *testing.T) {
	h := newHarness(t)
	bob := h.dialWS("bob")
	bob.register("bob", "bob-pw", 600)

	mallory := h.dialUDP("mallory") // never registered
	dave := h.dialTCP("dave")
	dave.register("dave", "dave-pw", 600) // registered, but as dave
	for _, p := range []*peer{mallory, dave} {
		for _, method := range []string{"MESSAGE", "INVITE", "OPTIONS", "REFER", "SUBSCRIBE"} {
			o := p.newRequest(method, "sip:bob@localhost")
			o.From = "<sip:alice@localhost>;tag=1"
			if method == "SUBSCRIBE" {
				o.Headers = append(o.Headers, "Event: dialog")
			}
			p.send(o.String())
			expectReason(t, p.expectResponse(403), reasonFrom)
		}
	}
	if !bob.nothing() {
		t.Fatalf("bob got %v", bob.next())
	}

	// The genuine Alice, registered over UDP, and a foreign user calling
	// in from an unregistered flow get through.
	alice := h.dialUDP("alice")
	alice.register("alice", "alice-pw", 600)
	for _, tc := range []struct {
		p    *peer
		from string
	}{
		{alice, "<sip:alice@localhost>;tag=2"},
		{mallory, "<sip:mallory@example.com>;tag=3"},
	} {
		o := tc.p.newRequest("MESSAGE", "sip:bob@localhost")
		o.From = tc.from
		o.Body = "hi"
		tc.p.send(o.String())
		req := bob.expectRequest(sip.MESSAGE)
		if req.From().Value() != tc.from {
			t.Fatalf("From %s, want %s", req.From().Value(), tc.from)
		}
		bob.reply(req, 200, "OK", "b", nil, "")
		tc.p.expectResponse(200)
	}
}

// RFC 3261 §26.3.2.4: no open relay toward foreign or numeric hosts, by
// Request-URI, preloaded Route or 2xx ACK, unless the sender registered.
func TestPolicyOpenRelay(t *testing.T) {
	h := newHarness(t)
	victim := listenVictim(t)
	addr := victim.LocalAddr().String()
	mallory := h.dialUDP("mallory")

	o := mallory.newRequest("MESSAGE", "sip:x@"+addr)
	o.From = "<sip:mallory@example.com>;tag=1"
	mallory.send(o.String())
	expectReason(t, mallory.expectResponse(403), reasonRelay)

	o = mallory.newRequest("MESSAGE", "sip:bob@localhost")
	o.From = "<sip:mallory@example.com>;tag=1"
	o.Headers = append(o.Headers, "Route: <sip:"+addr+";lr>")
	mallory.send(o.String())
	expectReason(t, mallory.expectResponse(403), reasonRelay)

	ack := mallory.newRequest("ACK", "sip:x@"+addr)
	ack.To += ";tag=x"
	mallory.send(ack.String())
	// The UDP reader handles datagrams in order: once the OPTIONS is
	// answered, the ACK has been dealt with.
	mallory.send(mallory.newRequest("OPTIONS", "sip:localhost").String())
	mallory.expectResponse(200)
	expectNothingQueued(t, victim)

	// A registered client may reach foreign hosts.
	carol := h.dialUDP("carol")
	carol.register("carol", "carol-pw", 600)
	o = carol.newRequest("MESSAGE", "sip:x@"+addr)
	carol.send(o.String())
	victim.SetReadDeadline(time.Now().Add(waitFor))
	buf := make([]byte, 65536)
	n, _, err := victim.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	req, err := sip.ParseMessage(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := req.(*sip.Request); !ok || r.Method != sip.MESSAGE {
		t.Fatalf("victim got %v", req)
	}
}

// Upstream mode: a preloaded Route from a client cannot lead around the
// core; the request reaches the core without it.
func TestPolicyRouteToCore(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h := newHarness(t, withUpstream("sip:"+ln.Addr().String()+";transport=tcp"))
	conns := fakeCore(t, h, ln)
	elsewhere := listenVictim(t)
	alice := h.dialWS("alice")
	o := alice.newRequest("MESSAGE", "sip:bob@example.com")
	o.Headers = append(o.Headers, "Route: <sip:"+elsewhere.LocalAddr().String()+";lr>")
	alice.send(o.String())
	core := <-conns
	req := core.expectRequest(sip.MESSAGE)
	if r := req.Route(); r != nil {
		t.Fatalf("Route %s reached the core", r.Value())
	}
	if req.Recipient.String() != "sip:bob@example.com" {
		t.Fatalf("Request-URI %s", req.Recipient.String())
	}
	core.reply(req, 200, "OK", "c", nil, "")
	alice.expectResponse(200)
	expectNothingQueued(t, elsewhere)

	// A Route naming the core is the core's own route set: kept.
	o = alice.newRequest("MESSAGE", "sip:bob@example.com")
	o.Headers = append(o.Headers, "Route: <sip:"+ln.Addr().String()+";transport=tcp;lr>")
	alice.send(o.String())
	req = core.expectRequest(sip.MESSAGE)
	if r := req.Route(); r == nil {
		t.Fatal("the core's Route was removed")
	}
}

// The UDP reader serves every UDP client: an ACK whose next hop needs a DNS lookup must not
// hold it up (the lookup runs elsewhere).
func TestAckResolveDoesNotBlockUDPReader(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 1)
	h := newHarness(t, withHopFilter(func(hop *nextHop) error {
		if hop.host == "slow.example" {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release // stands for a DNS lookup that takes seconds
		}
		return nil
	}))
	a := h.dialUDP("alice")
	a.register("alice", "alice-pw", 600) // a registered client may send toward foreign hosts
	b := h.dialUDP("bob")
	ack := a.newRequest("ACK", "sip:x@slow.example")
	ack.To += ";tag=x"
	a.send(ack.String())
	<-entered
	b.send(b.newRequest("OPTIONS", "sip:localhost").String())
	b.expectResponse(200)
}
