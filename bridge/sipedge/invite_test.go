package sipedge

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// registeredPair returns Alice and Bob registered over WebSocket.
func registeredPair(t *testing.T, h *harness) (alice, bob *peer) {
	alice = h.dialWS("alice")
	bob = h.dialWS("bob")
	alice.register("alice", "alice-pw", 600)
	bob.register("bob", "bob-pw", 600)
	return alice, bob
}

// invite sends an INVITE with MSRP SDP from caller to sip:callee@localhost
// and returns it with the request the callee received.
func invite(t *testing.T, caller, callee *peer, user string) (*out, *sip.Request) {
	t.Helper()
	inv := caller.newRequest("INVITE", "sip:"+user+"@localhost")
	inv.Headers = append(inv.Headers, "Content-Type: application/sdp")
	inv.Body = msrpOffer
	caller.send(inv.String())
	return inv, callee.expectRequest(sip.INVITE)
}

// An MSRP session set up between two browsers (RFC 3261 §13, RFC 4975 §8):
// 100, 180 and 200 reach the caller in order, the SDP passes byte for byte,
// the edge double-record-routes with flow tokens (RFC 5658 §5), and ACK and
// BYE follow the route set in both directions.
func TestInviteWSToWS(t *testing.T) {
	h := newHarness(t)
	alice, bob := registeredPair(t, h)
	inv, req := invite(t, alice, bob, "bob")

	if string(req.Body()) != msrpOffer {
		t.Fatalf("SDP changed:\n%q", req.Body())
	}
	rrs := req.GetHeaders("Record-Route")
	if len(rrs) != 2 {
		t.Fatalf("%d Record-Route, want 2", len(rrs))
	}
	for _, rr := range rrs {
		u := rr.(*sip.RecordRouteHeader).Address
		tok := h.e.tokenOf(&u)
		if len(tok) != 32 || !u.UriParams.Has("lr") || u.Host != "localhost" {
			t.Fatalf("Record-Route %s", u.String())
		}
		if v, _ := u.UriParams.Get("transport"); v != "ws" {
			t.Fatalf("Record-Route transport %q", v)
		}
	}
	t1 := rrs[0].(*sip.RecordRouteHeader).Address
	t2 := rrs[1].(*sip.RecordRouteHeader).Address
	if h.e.tokenOf(&t1) == h.e.tokenOf(&t2) {
		t.Fatal("both Record-Route entries carry the same flow token")
	}

	bob.reply(req, 180, "Ringing", "bobtag", []string{"Contact: <" + bob.contact + ">"}, "")
	bob.reply(req, 200, "OK", "bobtag", []string{"Contact: <" + bob.contact + ">", "Content-Type: application/sdp"}, msrpAnswer)

	if res := alice.next().(*sip.Response); res.StatusCode != 100 {
		t.Fatalf("first response %d, want 100", res.StatusCode)
	}
	if res := alice.next().(*sip.Response); res.StatusCode != 180 {
		t.Fatalf("second response %d, want 180", res.StatusCode)
	}
	ok := alice.next().(*sip.Response)
	if ok.StatusCode != 200 || string(ok.Body()) != msrpAnswer {
		t.Fatalf("third response %d, body %q", ok.StatusCode, ok.Body())
	}
	if n := len(ok.GetHeaders("Record-Route")); n != 2 {
		t.Fatalf("200 has %d Record-Route", n)
	}

	// ACK for the 2xx: its own transaction, routed by the route set.
	ad := callerDialog(alice, inv, ok)
	alice.send(ad.request("ACK").String())
	ack := bob.expectRequest(sip.ACK)
	if ack.Recipient.String() != bob.contact {
		t.Fatalf("ACK Request-URI %s", ack.Recipient.String())
	}
	if len(ack.GetHeaders("Route")) != 0 {
		t.Fatal("edge left its own Route entries in the ACK")
	}

	// BYE from the callee: the edge routes it to Alice's connection.
	bd := calleeDialog(bob, req, "bobtag")
	bye := bd.request("BYE")
	bob.send(bye.String())
	got := alice.expectRequest(sip.BYE)
	if got.Recipient.String() != alice.contact {
		t.Fatalf("BYE Request-URI %s, want %s", got.Recipient.String(), alice.contact)
	}
	alice.reply(got, 200, "OK", "", nil, "")
	bob.expectResponse(200)

	// A re-INVITE and UPDATE in the other direction (target refresh).
	up := ad.request("UPDATE")
	alice.send(up.String())
	u := bob.expectRequest(sip.UPDATE)
	bob.reply(u, 200, "OK", "", nil, "")
	alice.expectResponse(200)
}

// RFC 3261 §16.10: CANCEL is answered 200 hop by hop and forwarded; the
// callee's 487 reaches the caller.
func TestInviteCancel(t *testing.T) {
	h := newHarness(t)
	alice, bob := registeredPair(t, h)
	inv, req := invite(t, alice, bob, "bob")
	bob.reply(req, 180, "Ringing", "bt", []string{"Contact: <" + bob.contact + ">"}, "")
	alice.expectResponse(180)

	cancel := &out{Method: "CANCEL", URI: inv.URI, Via: inv.Via, From: inv.From, To: inv.To, CallID: inv.CallID, CSeq: inv.CSeq}
	alice.send(cancel.String())
	cres := alice.expectResponse(200)
	if cres.CSeq().MethodName != sip.CANCEL {
		t.Fatalf("200 for %s", cres.CSeq().MethodName)
	}
	c := bob.expectRequest(sip.CANCEL)
	if c.Via().Value() != req.Via().Value() || c.CSeq().SeqNo != req.CSeq().SeqNo {
		t.Fatalf("CANCEL does not match the INVITE branch: %s", c.Via().Value())
	}
	bob.reply(c, 200, "OK", "", nil, "")
	bob.reply(req, 487, "Request Terminated", "bt", nil, "")
	res := alice.expectResponse(487)
	if res.CSeq().MethodName != sip.INVITE {
		t.Fatalf("487 for %s", res.CSeq().MethodName)
	}
	// The edge's client transaction acknowledges the 487 (RFC 3261
	// §17.1.1.3) and absorbs Alice's ACK.
	ack := bob.expectRequest(sip.ACK)
	if ack.Via().Value() != req.Via().Value() {
		t.Fatal("ACK for 487 is not on the INVITE's branch")
	}
	a := &out{Method: "ACK", URI: inv.URI, Via: inv.Via, From: inv.From, To: res.To().Value(), CallID: inv.CallID, CSeq: inv.CSeq}
	alice.send(a.String())

	// CANCEL for an unknown INVITE: 481.
	stray := &out{Method: "CANCEL", URI: inv.URI, Via: alice.via(), From: inv.From, To: inv.To, CallID: "nope", CSeq: 1}
	alice.send(stray.String())
	alice.expectResponse(481)
	if !bob.nothing() {
		t.Fatalf("Bob got %v", <-bob.msgs)
	}
}

// RFC 5626 §5.3: when the flow a Route token names is gone, the edge answers
// 430 at once; an AOR whose only flow closed gets 480; an INVITE whose callee
// disappears while ringing is answered without waiting for timers.
func TestFlowGone(t *testing.T) {
	h := newHarness(t)
	alice, bob := registeredPair(t, h)
	inv, req := invite(t, alice, bob, "bob")
	bob.reply(req, 200, "OK", "bt", []string{"Contact: <" + bob.contact + ">", "Content-Type: application/sdp"}, msrpAnswer)
	ok := alice.expectResponse(200)
	ad := callerDialog(alice, inv, ok)
	alice.send(ad.request("ACK").String())
	bob.expectRequest(sip.ACK)

	bob.close()
	bye := ad.request("BYE")
	alice.send(bye.String())
	res := alice.expectResponse(430)
	if !strings.Contains(res.Reason, "Flow Failed") {
		t.Fatalf("reason %q", res.Reason)
	}

	m := alice.newRequest("MESSAGE", "sip:bob@localhost")
	alice.send(m.String())
	alice.expectResponse(480)

	// The callee vanishes while its phone rings.
	carol := h.dialWS("carol")
	carol.register("carol", "carol-pw", 600)
	_, creq := invite(t, alice, carol, "carol")
	carol.reply(creq, 180, "Ringing", "ct", nil, "")
	alice.expectResponse(180)
	carol.close()
	res = alice.response()
	if res.StatusCode != 480 && res.StatusCode != 430 {
		t.Fatalf("got %d, want 480 or 430", res.StatusCode)
	}

	// The caller vanishes while the callee rings: the edge cancels the
	// branch (RFC 3261 §16.10 behaviour on the caller's behalf).
	dave := h.dialWS("dave")
	dave.register("dave", "dave-pw", 600)
	_, dreq := invite(t, alice, dave, "dave")
	dave.reply(dreq, 180, "Ringing", "dt", nil, "")
	alice.expectResponse(180)
	alice.close()
	c := dave.expectRequest(sip.CANCEL)
	dave.reply(c, 200, "OK", "", nil, "")
	dave.reply(dreq, 487, "Request Terminated", "dt", nil, "")
	dave.expectRequest(sip.ACK)
}

// RFC 5626 §4.4.1 / RFC 7118: a double-CRLF keepalive is answered with CRLF
// on WebSocket and TCP.
func TestKeepalive(t *testing.T) {
	h := newHarness(t)
	w := h.dialWS("w")
	w.send("\r\n\r\n")
	if got := w.nextRaw(); string(got) != "\r\n" {
		t.Fatalf("WS pong %q", got)
	}
	c := h.dialTCP("c")
	c.send("\r\n\r\n")
	if got := c.nextRaw(); string(got) != "\r\n" {
		t.Fatalf("TCP pong %q", got)
	}
	// The connection still carries SIP afterwards.
	o := c.newRequest("OPTIONS", "sip:localhost")
	c.send(o.String())
	c.expectResponse(200)
}
