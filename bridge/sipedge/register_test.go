package sipedge

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/simplegw/simplegw/bridge/auth"
)

// RFC 3261 §10.3 with §22 digest: challenge, wrong password, someone else's
// AOR, success, binding listing, un-REGISTER.
func TestRegisterDigest(t *testing.T) {
	h := newHarness(t)
	alice := h.dialWS("alice")

	o := alice.newRequest("REGISTER", "sip:localhost")
	o.To = "<sip:alice@localhost>"
	o.Headers = []string{"Contact: <" + alice.contact + ">;expires=600"}
	alice.send(o.String())
	res := alice.expectResponse(401)
	challenge := headerValue(res, "WWW-Authenticate")
	_, params, err := auth.ParseParams(challenge)
	if err != nil || params["realm"] != "localhost" || params["qop"] != "auth" || params["nonce"] == "" {
		t.Fatalf("bad challenge %q (%v)", challenge, err)
	}

	// Wrong password: 403.
	o.CSeq++
	o.Via = alice.via()
	authz := digestResponse(t, challenge, "alice", "wrong", "REGISTER", "sip:localhost")
	o.Headers = []string{"Contact: <" + alice.contact + ">;expires=600", "Authorization: " + authz}
	alice.send(o.String())
	alice.expectResponse(403)

	// Bob's AOR with Alice's credentials: 403.
	o2 := alice.newRequest("REGISTER", "sip:localhost")
	o2.To = "<sip:bob@localhost>"
	o2.Headers = []string{"Contact: <" + alice.contact + ">",
		"Authorization: " + digestResponse(t, challenge, "alice", "alice-pw", "REGISTER", "sip:localhost")}
	alice.send(o2.String())
	if res := alice.expectResponse(403); !strings.Contains(res.Reason, "address-of-record") {
		t.Fatalf("reason %q", res.Reason)
	}

	// Malformed credentials: 400.
	o3 := alice.newRequest("REGISTER", "sip:localhost")
	o3.To = "<sip:alice@localhost>"
	o3.Headers = []string{"Contact: <" + alice.contact + ">", "Authorization: Digest username=alice"}
	alice.send(o3.String())
	alice.expectResponse(400)

	// Success: the 200 lists the binding with its expiry.
	res = alice.register("alice", "alice-pw", 600)
	cs := res.GetHeaders("Contact")
	if len(cs) != 1 {
		t.Fatalf("200 has %d contacts", len(cs))
	}
	c := cs[0].(*sip.ContactHeader)
	if c.Address.String() != alice.contact {
		t.Fatalf("contact %q, want %q", c.Address.String(), alice.contact)
	}
	if exp, _ := c.Params.Get("expires"); exp != "600" && exp != "599" {
		t.Fatalf("expires %q", exp)
	}

	// A second tab of Alice adds a binding; both are listed.
	tab2 := h.dialWS("alice")
	res = tab2.register("alice", "alice-pw", 300)
	if n := len(res.GetHeaders("Contact")); n != 2 {
		t.Fatalf("200 lists %d contacts, want 2", n)
	}

	// Un-REGISTER of the second tab (RFC 3261 §10.2.2).
	res = tab2.register("alice", "alice-pw", 0)
	if n := len(res.GetHeaders("Contact")); n != 1 {
		t.Fatalf("after un-REGISTER 200 lists %d contacts, want 1", n)
	}

	// Ephemeral credentials (EXPIRY:NAME) register NAME.
	user, pw := auth.MintEphemeral([]byte("test-secret"), "dave", time.Now().Add(time.Hour))
	dave := h.dialWS("dave")
	o4 := dave.newRequest("REGISTER", "sip:localhost")
	o4.To = "<sip:dave@localhost>"
	o4.Headers = []string{"Contact: <" + dave.contact + ">"}
	dave.send(o4.String())
	res = dave.expectResponse(401)
	o4.CSeq++
	o4.Via = dave.via()
	o4.Headers = append(o4.Headers, "Authorization: "+digestResponse(t, headerValue(res, "WWW-Authenticate"), user, pw, "REGISTER", "sip:localhost"))
	dave.send(o4.String())
	dave.expectResponse(200)

	// Expired ephemeral credentials: 403.
	user, pw = auth.MintEphemeral([]byte("test-secret"), "dave", time.Now().Add(-time.Minute))
	o4.CSeq++
	o4.Via = dave.via()
	o4.Headers = []string{"Contact: <" + dave.contact + ">",
		"Authorization: " + digestResponse(t, headerValue(res, "WWW-Authenticate"), user, pw, "REGISTER", "sip:localhost")}
	dave.send(o4.String())
	dave.expectResponse(403)
}

// RFC 3261 §10.3 steps 6-7: Contact: * with Expires: 0 removes every
// binding; a too short expiry gets 423 with Min-Expires; an out-of-order
// CSeq for the same Call-ID gets 500.
func TestRegisterWildcardAndLimits(t *testing.T) {
	h := newHarness(t, withoutAuth())
	a := h.dialWS("alice")
	b := h.dialUDP("alice")
	a.register("alice", "", 600)
	b.register("alice", "", 600)

	q := a.newRequest("REGISTER", "sip:localhost")
	q.To = "<sip:alice@localhost>"
	q.Headers = nil
	a.send(q.String())
	if n := len(a.expectResponse(200).GetHeaders("Contact")); n != 2 {
		t.Fatalf("query lists %d contacts, want 2", n)
	}

	bad := a.newRequest("REGISTER", "sip:localhost")
	bad.To = "<sip:alice@localhost>"
	bad.Headers = []string{"Contact: *"}
	a.send(bad.String())
	a.expectResponse(400)

	old := minExpires
	minExpires = 60
	brief := a.newRequest("REGISTER", "sip:localhost")
	brief.To = "<sip:alice@localhost>"
	brief.Headers = []string{"Contact: <" + a.contact + ">;expires=30"}
	a.send(brief.String())
	res := a.expectResponse(423)
	minExpires = old
	if headerValue(res, "Min-Expires") != "60" {
		t.Fatalf("Min-Expires %q", headerValue(res, "Min-Expires"))
	}

	// Same Call-ID, lower CSeq: out of order.
	r1 := a.newRequest("REGISTER", "sip:localhost")
	r1.To = "<sip:alice@localhost>"
	r1.CSeq = 50
	r1.Headers = []string{"Contact: <sip:x@192.0.2.1>"}
	a.send(r1.String())
	a.expectResponse(200)
	r1.CSeq = 49
	r1.Via = a.via()
	a.send(r1.String())
	a.expectResponse(500)

	all := a.newRequest("REGISTER", "sip:localhost")
	all.To = "<sip:alice@localhost>"
	all.Headers = []string{"Contact: *", "Expires: 0"}
	a.send(all.String())
	if n := len(a.expectResponse(200).GetHeaders("Contact")); n != 0 {
		t.Fatalf("after Contact: * the 200 lists %d contacts", n)
	}

	// Nobody is registered any more: 480.
	m := b.newRequest("MESSAGE", "sip:alice@localhost")
	m.Body = "hi"
	b.send(m.String())
	b.expectResponse(480)
}

// A TCP client registers (like a softphone or SIPp) and receives requests
// over its connection; the registration expires.
func TestRegisterTCPClientAndExpiry(t *testing.T) {
	h := newHarness(t)
	expired := make(chan string, 1)
	h.e.reg.expired = func(aor string) { expired <- aor }
	carol := h.dialTCP("carol")
	carol.register("carol", "carol-pw", 1)
	alice := h.dialWS("alice")
	alice.register("alice", "alice-pw", 600)
	select {
	case aor := <-expired:
		if aor != "sip:carol@localhost" {
			t.Fatalf("expired %s", aor)
		}
	case <-time.After(waitFor):
		t.Fatal("registration did not expire")
	}
	m := alice.newRequest("OPTIONS", "sip:carol@localhost")
	alice.send(m.String())
	alice.expectResponse(480)

	carol.register("carol", "carol-pw", 600)
	m = alice.newRequest("MESSAGE", "sip:carol@localhost")
	m.Headers = append(m.Headers, "Content-Type: text/plain")
	m.Body = "hello carol"
	alice.send(m.String())
	req := carol.expectRequest(sip.MESSAGE)
	if string(req.Body()) != "hello carol" || req.Recipient.String() != carol.contact {
		t.Fatalf("got %q to %s", req.Body(), req.Recipient.String())
	}
	carol.reply(req, 200, "OK", "c2", nil, "")
	alice.expectResponse(200)
}
