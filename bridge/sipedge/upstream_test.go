package sipedge

import (
	"net"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// fakeCore is a SIP core on TCP that the edge forwards to.
func fakeCore(t *testing.T, h *harness, ln net.Listener) chan *peer {
	conns := make(chan *peer, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- h.streamPeer("core", c)
		}
	}()
	return conns
}

// With an upstream core: REGISTER gets a Path with the browser's flow token
// (RFC 3327), the core's 401 passes through unchanged, requests from the core
// reach the browser by that Path over TCP and UDP, dialogs are
// double-record-routed toward the core (RFC 5658), and a Path whose flow is
// gone gets 430 (RFC 5626 §5.3).
func TestUpstream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h := newHarness(t, withUpstream("sip:"+ln.Addr().String()+";transport=tcp"))
	conns := fakeCore(t, h, ln)
	alice := h.dialWS("alice")

	reg := alice.newRequest("REGISTER", "sip:example.com")
	reg.To = "<sip:alice@example.com>"
	reg.Headers = []string{"Contact: <" + alice.contact + ">;expires=600", "Supported: path"}
	alice.send(reg.String())
	core := <-conns
	r := core.expectRequest(sip.REGISTER)
	if top := r.Via(); top.Transport != "TCP" {
		t.Fatalf("edge Via %s", top.Value())
	}
	paths := r.GetHeaders("Path")
	if len(paths) != 1 {
		t.Fatalf("%d Path headers", len(paths))
	}
	var pathURI sip.Uri
	if err := sip.ParseUri(strings.Trim(paths[0].Value(), "<>"), &pathURI); err != nil {
		t.Fatal(err)
	}
	if len(h.e.tokenOf(&pathURI)) != 32 || !pathURI.UriParams.Has("lr") {
		t.Fatalf("Path %s", paths[0].Value())
	}
	challenge := `Digest realm="example.com", nonce="core-nonce-1", qop="auth", algorithm=MD5, opaque="x"`
	core.reply(r, 401, "Unauthorized", "c1", []string{"WWW-Authenticate: " + challenge}, "")
	res := alice.expectResponse(401)
	if got := headerValue(res, "WWW-Authenticate"); got != challenge {
		t.Fatalf("challenge changed:\n%s\n%s", got, challenge)
	}
	reg.CSeq++
	reg.Via = alice.via()
	reg.Headers = append(reg.Headers, "Authorization: "+digestResponse(t, challenge, "alice", "pw", "REGISTER", "sip:example.com"))
	alice.send(reg.String())
	r = core.expectRequest(sip.REGISTER)
	if headerValue(r, "Authorization") == "" {
		t.Fatal("Authorization not forwarded")
	}
	core.reply(r, 200, "OK", "c1", []string{"Contact: <" + alice.contact + ">;expires=600", "Path: " + paths[0].Value()}, "")
	alice.expectResponse(200)

	// The core sends a MESSAGE for Alice, Routed by the Path, over the
	// connection the edge opened.
	msg := &out{Method: "MESSAGE", URI: alice.contact, Via: core.via(), From: "<sip:bob@example.com>;tag=9",
		To: "<sip:alice@example.com>", CallID: "m1", CSeq: 1,
		Headers: []string{"Route: " + paths[0].Value(), "Content-Type: text/plain"}, Body: "via core"}
	core.send(msg.String())
	got := alice.expectRequest(sip.MESSAGE)
	if string(got.Body()) != "via core" || len(got.GetHeaders("Route")) != 0 {
		t.Fatalf("MESSAGE at Alice: body %q, Routes %d", got.Body(), len(got.GetHeaders("Route")))
	}
	alice.reply(got, 200, "OK", "a1", nil, "")
	core.expectResponse(200)

	// The same over UDP to the edge's UDP socket.
	udpCore := h.dialUDP("coreudp")
	msg.Via, msg.CallID = udpCore.via(), "m2"
	udpCore.send(msg.String())
	got = alice.expectRequest(sip.MESSAGE)
	alice.reply(got, 200, "OK", "a2", nil, "")
	udpCore.expectResponse(200)

	// A call from Alice: record-routed twice, toward the core over TCP.
	inv := alice.newRequest("INVITE", "sip:bob@example.com")
	inv.Headers = append(inv.Headers, "Content-Type: application/sdp")
	inv.Body = msrpOffer
	alice.send(inv.String())
	ir := core.expectRequest(sip.INVITE)
	rrs := ir.GetHeaders("Record-Route")
	if len(rrs) != 2 {
		t.Fatalf("%d Record-Route", len(rrs))
	}
	top := rrs[0].(*sip.RecordRouteHeader).Address
	second := rrs[1].(*sip.RecordRouteHeader).Address
	if tp, _ := top.UriParams.Get("transport"); tp != "tcp" || top.HostPort() != h.tcpAddr() {
		t.Fatalf("core-facing Record-Route %s, want %s;transport=tcp", top.String(), h.tcpAddr())
	}
	if tp, _ := second.UriParams.Get("transport"); tp != "ws" || h.e.tokenOf(&second) == "" {
		t.Fatalf("browser-facing Record-Route %s", second.String())
	}
	core.reply(ir, 200, "OK", "bobtag", []string{"Contact: <sip:bob@192.0.2.7>", "Content-Type: application/sdp"}, msrpAnswer)
	alice.expectResponse(200)
	bd := calleeDialog(core, ir, "bobtag")
	bye := bd.request("BYE")
	core.send(bye.String())
	b := alice.expectRequest(sip.BYE)
	alice.reply(b, 200, "OK", "", nil, "")
	core.expectResponse(200)

	// Alice leaves: the core's next request for her gets 430 at once.
	alice.close()
	msg.Via, msg.CallID = core.via(), "m3"
	core.send(msg.String())
	core.expectResponse(430)
}
