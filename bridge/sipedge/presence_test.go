package sipedge

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func pidf(entity, basic, note string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\r\n" +
		`<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="` + entity + `">` +
		`<tuple id="t1"><status><basic>` + basic + `</basic></status><note>` + note + `</note></tuple></presence>`
}

// expectNotify waits for a NOTIFY, answers it 200 and returns it.
func expectNotify(t *testing.T, p *peer) *sip.Request {
	t.Helper()
	n := p.expectRequest(sip.NOTIFY)
	if pkg, _ := eventPackage(n); pkg != "presence" {
		t.Fatalf("NOTIFY Event %q", headerValue(n, "Event"))
	}
	p.reply(n, 200, "OK", "", nil, "")
	return n
}

// Embedded presence: RFC 3903 PUBLISH (initial, modify, refresh, remove,
// expiry) and RFC 3856 / RFC 6665 SUBSCRIBE with NOTIFY on subscribe, on
// every change, on publication expiry and when the subscription ends.
func TestPresence(t *testing.T) {
	h := newHarness(t)
	alice, bob := registeredPair(t, h)

	// Bob subscribes to Alice before she publishes: a "closed" document.
	sub := bob.newRequest("SUBSCRIBE", "sip:alice@localhost")
	sub.Headers = append(sub.Headers, "Event: presence", "Accept: application/pidf+xml", "Expires: 600")
	bob.send(sub.String())
	sres := bob.expectResponse(200)
	if headerValue(sres, "Expires") != "600" || sres.Contact() == nil {
		t.Fatalf("SUBSCRIBE 200: Expires %q, Contact %v", headerValue(sres, "Expires"), sres.Contact())
	}
	toTag, _ := sres.To().Params.Get("tag")
	n := expectNotify(t, bob)
	if st := headerValue(n, "Subscription-State"); !strings.HasPrefix(st, "active") {
		t.Fatalf("Subscription-State %q", st)
	}
	if !strings.Contains(string(n.Body()), "<basic>closed</basic>") || contentType(n) != pidfType {
		t.Fatalf("initial NOTIFY body %q", n.Body())
	}
	if tag, _ := n.From().Params.Get("tag"); tag != toTag {
		t.Fatalf("NOTIFY From tag %q, want %q", tag, toTag)
	}
	if n.CallID().Value() != sub.CallID {
		t.Fatal("NOTIFY outside the subscription dialog")
	}

	// Initial PUBLISH.
	pub := alice.newRequest("PUBLISH", "sip:alice@localhost")
	pub.Headers = append(pub.Headers, "Event: presence", "Expires: 600", "Content-Type: application/pidf+xml")
	pub.Body = pidf("sip:alice@localhost", "open", "online")
	alice.send(pub.String())
	pres := alice.expectResponse(200)
	etag := headerValue(pres, "SIP-ETag")
	if etag == "" || headerValue(pres, "Expires") != "600" {
		t.Fatalf("PUBLISH 200: SIP-ETag %q Expires %q", etag, headerValue(pres, "Expires"))
	}
	n = expectNotify(t, bob)
	if string(n.Body()) != pub.Body {
		t.Fatalf("NOTIFY body %q", n.Body())
	}
	cseq1 := n.CSeq().SeqNo

	// Modify (RFC 3903 §4.4): new body, new entity-tag.
	mod := alice.newRequest("PUBLISH", "sip:alice@localhost")
	mod.Headers = append(mod.Headers, "Event: presence", "SIP-If-Match: "+etag, "Content-Type: application/pidf+xml")
	mod.Body = pidf("sip:alice@localhost", "open", "busy")
	alice.send(mod.String())
	pres = alice.expectResponse(200)
	etag2 := headerValue(pres, "SIP-ETag")
	if etag2 == "" || etag2 == etag {
		t.Fatalf("entity-tag not renewed: %q", etag2)
	}
	n = expectNotify(t, bob)
	if !strings.Contains(string(n.Body()), "busy") || n.CSeq().SeqNo <= cseq1 {
		t.Fatalf("NOTIFY after modify: CSeq %d body %q", n.CSeq().SeqNo, n.Body())
	}

	// The old entity-tag is gone: 412 (RFC 3903 §6 step 4).
	stale := alice.newRequest("PUBLISH", "sip:alice@localhost")
	stale.Headers = append(stale.Headers, "Event: presence", "SIP-If-Match: "+etag)
	alice.send(stale.String())
	alice.expectResponse(412)

	// Refresh without a body: no NOTIFY.
	ref := alice.newRequest("PUBLISH", "sip:alice@localhost")
	ref.Headers = append(ref.Headers, "Event: presence", "SIP-If-Match: "+etag2, "Expires: 1")
	alice.send(ref.String())
	etag3 := headerValue(alice.expectResponse(200), "SIP-ETag")
	if etag3 == "" {
		t.Fatal("refresh without SIP-ETag")
	}

	// The publication expires (Expires: 1): NOTIFY with the closed state.
	n = expectNotify(t, bob)
	if !strings.Contains(string(n.Body()), "<basic>closed</basic>") {
		t.Fatalf("NOTIFY after expiry %q", n.Body())
	}

	// Publish again, then remove it explicitly (RFC 3903 §4.5).
	alice.send(pub2(alice, "away").String())
	etag4 := headerValue(alice.expectResponse(200), "SIP-ETag")
	expectNotify(t, bob)
	rm := alice.newRequest("PUBLISH", "sip:alice@localhost")
	rm.Headers = append(rm.Headers, "Event: presence", "SIP-If-Match: "+etag4, "Expires: 0")
	alice.send(rm.String())
	// RFC 3903 §6 step 6: every 200 to PUBLISH carries a new entity-tag and Expires.
	if res := alice.expectResponse(200); headerValue(res, "SIP-ETag") == "" || headerValue(res, "SIP-ETag") == etag4 ||
		headerValue(res, "Expires") != "0" {
		t.Fatalf("200 to the removal: SIP-ETag %q Expires %q", headerValue(res, "SIP-ETag"), headerValue(res, "Expires"))
	}
	n = expectNotify(t, bob)
	if !strings.Contains(string(n.Body()), "closed") {
		t.Fatalf("NOTIFY after removal %q", n.Body())
	}

	// Bob ends the subscription inside the dialog (RFC 6665 §4.2.1.4).
	un := &out{Method: "SUBSCRIBE", URI: sres.Contact().Address.String(), Via: bob.via(), From: sub.From,
		To: sres.To().Value(), CallID: sub.CallID, CSeq: sub.CSeq + 1,
		Headers: []string{"Contact: <" + bob.contact + ">", "Event: presence", "Expires: 0"}}
	bob.send(un.String())
	bob.expectResponse(200)
	n = expectNotify(t, bob)
	if st := headerValue(n, "Subscription-State"); !strings.HasPrefix(st, "terminated") {
		t.Fatalf("Subscription-State %q", st)
	}
	// The dialog is gone: a refresh gets 481.
	un.CSeq++
	un.Via = bob.via()
	un.Headers[2] = "Expires: 60"
	bob.send(un.String())
	bob.expectResponse(481)
}

func pub2(p *peer, note string) *out {
	o := p.newRequest("PUBLISH", "sip:"+p.name+"@localhost")
	o.Headers = append(o.Headers, "Event: presence", "Expires: 600", "Content-Type: application/pidf+xml")
	o.Body = pidf("sip:"+p.name+"@localhost", "open", note)
	return o
}

// A subscription ends on its own (Expires: 1) with a final NOTIFY
// terminated;reason=timeout (RFC 6665 §4.2.2).
func TestPresenceSubscriptionExpiry(t *testing.T) {
	h := newHarness(t)
	_, bob := registeredPair(t, h)
	sub := bob.newRequest("SUBSCRIBE", "sip:alice@localhost")
	sub.Headers = append(sub.Headers, "Event: presence", "Expires: 1")
	bob.send(sub.String())
	bob.expectResponse(200)
	expectNotify(t, bob)
	n := expectNotify(t, bob)
	if st := headerValue(n, "Subscription-State"); st != "terminated;reason=timeout" {
		t.Fatalf("Subscription-State %q", st)
	}
}

// PUBLISH is refused when it cannot be accepted: unknown event package (489),
// wrong body type (415), malformed PIDF (400), a publisher that has not
// registered the presentity (407 challenge, then 403 for someone else's).
func TestPresenceRejects(t *testing.T) {
	h := newHarness(t)
	alice, _ := registeredPair(t, h)

	bad := alice.newRequest("PUBLISH", "sip:alice@localhost")
	bad.Headers = append(bad.Headers, "Event: dialog", "Content-Type: application/pidf+xml")
	bad.Body = pidf("sip:alice@localhost", "open", "")
	alice.send(bad.String())
	if res := alice.expectResponse(489); headerValue(res, "Allow-Events") != "presence" {
		t.Fatalf("Allow-Events %q", headerValue(res, "Allow-Events"))
	}

	ct := pub2(alice, "x")
	ct.Headers[len(ct.Headers)-1] = "Content-Type: text/plain"
	alice.send(ct.String())
	alice.expectResponse(415)

	xmlBad := pub2(alice, "x")
	xmlBad.Body = "<presence xmlns='urn:ietf:params:xml:ns:pidf'><tuple>"
	alice.send(xmlBad.String())
	alice.expectResponse(400)

	// Carol over TCP has not registered: 407, then with Alice's name but
	// Carol's credentials: 403.
	carol := h.dialTCP("carol")
	p := pub2(carol, "x")
	p.URI = "sip:alice@localhost"
	carol.send(p.String())
	res := carol.expectResponse(407)
	p.CSeq++
	p.Via = carol.via()
	p.Headers = append(p.Headers, "Proxy-Authorization: "+
		digestResponse(t, headerValue(res, "Proxy-Authenticate"), "carol", "carol-pw", "PUBLISH", "sip:alice@localhost"))
	carol.send(p.String())
	carol.expectResponse(403)

	// Carol publishing for herself with her credentials is fine.
	p2 := pub2(carol, "here")
	carol.send(p2.String())
	res = carol.expectResponse(407)
	p2.CSeq++
	p2.Via = carol.via()
	p2.Headers = append(p2.Headers, "Proxy-Authorization: "+
		digestResponse(t, headerValue(res, "Proxy-Authenticate"), "carol", "carol-pw", "PUBLISH", "sip:carol@localhost"))
	carol.send(p2.String())
	carol.expectResponse(200)

	// SUBSCRIBE for an event nobody serves and nobody registered: 480.
	s := alice.newRequest("SUBSCRIBE", "sip:dave@localhost")
	s.Headers = append(s.Headers, "Event: conference")
	alice.send(s.String())
	alice.expectResponse(480)
}
