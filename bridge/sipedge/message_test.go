package sipedge

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// RFC 3428 MESSAGE between two browsers through the embedded proxy; the
// request is forked to both of Bob's tabs (RFC 3261 §16.6) and the first
// 200 reaches Alice once.
func TestMessageWSToWS(t *testing.T) {
	h := newHarness(t)
	alice := h.dialWS("alice")
	bob1 := h.dialWS("bob")
	bob2 := h.dialWS("bob")
	alice.register("alice", "alice-pw", 600)
	bob1.register("bob", "bob-pw", 600)
	bob2.register("bob", "bob-pw", 600)

	m := alice.newRequest("MESSAGE", "sip:bob@localhost")
	m.Headers = append(m.Headers, "Content-Type: text/plain;charset=utf-8")
	m.Body = "héllo bob"
	alice.send(m.String())

	r1 := bob1.expectRequest(sip.MESSAGE)
	r2 := bob2.expectRequest(sip.MESSAGE)
	for _, r := range []*sip.Request{r1, r2} {
		if string(r.Body()) != "héllo bob" {
			t.Fatalf("body %q", r.Body())
		}
		vias := r.GetHeaders("Via")
		if len(vias) != 2 {
			t.Fatalf("%d Vias, want 2", len(vias))
		}
		top := vias[0].(*sip.ViaHeader)
		if top.Transport != "WS" || top.Host != "localhost" {
			t.Fatalf("edge Via %s", top.Value())
		}
		if vias[1].Value() != m.Via {
			t.Fatalf("Alice's Via changed: %q != %q", vias[1].Value(), m.Via)
		}
		if mf := r.MaxForwards(); mf == nil || mf.Val() != 69 {
			t.Fatalf("Max-Forwards %v", mf)
		}
		if len(r.GetHeaders("Record-Route")) != 0 {
			t.Fatal("MESSAGE was record-routed")
		}
	}
	if r1.Recipient.String() == r2.Recipient.String() {
		t.Fatal("both branches got the same Request-URI")
	}
	bob2.reply(r2, 200, "OK", "b2", nil, "")
	res := alice.expectResponse(200)
	if got := res.Via().Value(); got != m.Via {
		t.Fatalf("response Via %q, want Alice's %q", got, m.Via)
	}
	bob1.reply(r1, 200, "OK", "b1", nil, "")

	// A second MESSAGE proves the first left nothing behind for Alice.
	m2 := alice.newRequest("MESSAGE", "sip:bob@localhost")
	m2.Body = "again"
	alice.send(m2.String())
	bob1.reply(bob1.expectRequest(sip.MESSAGE), 486, "Busy Here", "b1", nil, "")
	bob2.reply(bob2.expectRequest(sip.MESSAGE), 404, "Not Found", "b2", nil, "")
	// RFC 3261 §16.7 step 6: the lowest class wins; both are 4xx.
	res = alice.response()
	if res.StatusCode != 486 && res.StatusCode != 404 {
		t.Fatalf("got %d", res.StatusCode)
	}
	if !alice.nothing() {
		t.Fatalf("Alice got an extra message: %v", <-alice.msgs)
	}

	// Unregistered user: 480.
	m3 := alice.newRequest("MESSAGE", "sip:nobody@localhost")
	alice.send(m3.String())
	alice.expectResponse(480)
}

// A browser messages a UDP user agent addressed by IP (proxied out, RFC 3263
// §4 numeric host) and a UDP client registered with the embedded registrar.
func TestMessageWSToUDP(t *testing.T) {
	h := newHarness(t)
	alice := h.dialWS("alice")
	alice.register("alice", "alice-pw", 600)

	// Not registered: reached by its IP address.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	edgeUDP, _ := net.ResolveUDPAddr("udp", h.udpAddr())
	ua := h.udpPeer("ua", pc, edgeUDP)
	m := alice.newRequest("MESSAGE", "sip:ua@"+pc.LocalAddr().String())
	m.Body = "to udp"
	alice.send(m.String())
	req := ua.expectRequest(sip.MESSAGE)
	top := req.Via()
	if top.Transport != "UDP" || top.SentBy() != h.udpAddr() || !top.Params.Has("rport") {
		t.Fatalf("edge Via %s, want UDP %s;rport", top.Value(), h.udpAddr())
	}
	if string(req.Body()) != "to udp" {
		t.Fatalf("body %q", req.Body())
	}
	ua.reply(req, 200, "OK", "u1", nil, "")
	alice.expectResponse(200)

	// Registered over UDP.
	carol := h.dialUDP("carol")
	carol.register("carol", "carol-pw", 600)
	m = alice.newRequest("MESSAGE", "sip:carol@localhost")
	m.Body = "to carol"
	alice.send(m.String())
	req = carol.expectRequest(sip.MESSAGE)
	if req.Recipient.String() != carol.contact {
		t.Fatalf("Request-URI %s, want %s", req.Recipient.String(), carol.contact)
	}
	carol.reply(req, 202, "Accepted", "c1", nil, "")
	alice.expectResponse(202)

	// A UDP peer that never answers: the client transaction times out
	// (Timer F) — not waited for here; a 5xx from the UA is passed on as is.
	m = alice.newRequest("MESSAGE", "sip:carol@localhost")
	alice.send(m.String())
	req = carol.expectRequest(sip.MESSAGE)
	carol.reply(req, 503, "Service Unavailable", "c1", nil, "")
	// RFC 3261 §16.7 step 6: 503 is sent upstream as 500.
	alice.expectResponse(500)
}

// A registered TCP client messages a browser; RFC 3261 §18.2.1 and
// RFC 3581: the edge stamps received and rport on the client's Via, and the
// response returns over the client's connection.
func TestMessageTCPToWS(t *testing.T) {
	h := newHarness(t)
	bob := h.dialWS("bob")
	bob.register("bob", "bob-pw", 600)
	sipp := h.dialTCP("carol")
	sipp.register("carol", "carol-pw", 600)

	m := sipp.newRequest("MESSAGE", "sip:bob@localhost")
	m.Via = "SIP/2.0/TCP client.example.com:5999;branch=z9hG4bK" + randHex(8) + ";rport"
	m.Headers = append(m.Headers, "Content-Type: text/plain")
	m.Body = "from tcp"
	sipp.send(m.String())

	req := bob.expectRequest(sip.MESSAGE)
	vias := req.GetHeaders("Via")
	if len(vias) != 2 {
		t.Fatalf("%d Vias", len(vias))
	}
	client := vias[1].(*sip.ViaHeader)
	host, port, _ := net.SplitHostPort(sipp.viaHost)
	if got, _ := client.Params.Get("received"); got != host {
		t.Fatalf("received=%q, want %q", got, host)
	}
	if got, _ := client.Params.Get("rport"); got != port {
		t.Fatalf("rport=%q, want %q", got, port)
	}
	bob.reply(req, 200, "OK", "b1", nil, "")
	res := sipp.expectResponse(200)
	if v := res.Via(); v.Host != "client.example.com" || v.Port != 5999 {
		t.Fatalf("response Via %s", v.Value())
	}
	p, _ := strconv.Atoi(port)
	if got, _ := res.Via().Params.Get("rport"); got != strconv.Itoa(p) {
		t.Fatalf("response rport %q", got)
	}
}

// OPTIONS to the edge itself is answered (RFC 3261 §11.2), on UDP with the
// response sent to the source port (RFC 3581 §4).
func TestOptionsToEdge(t *testing.T) {
	h := newHarness(t)
	ua := h.dialUDP("ua")
	o := ua.newRequest("OPTIONS", "sip:"+h.udpAddr())
	ua.send(o.String())
	res := ua.expectResponse(200)
	if !strings.Contains(headerValue(res, "Allow"), "MESSAGE") {
		t.Fatalf("Allow %q", headerValue(res, "Allow"))
	}
	w := h.dialWS("w")
	o = w.newRequest("OPTIONS", "sip:localhost")
	w.send(o.String())
	w.expectResponse(200)
}
