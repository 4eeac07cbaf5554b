package sipedge

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// pidfType is the PIDF media type (RFC 3863 §4.1).
const pidfType = "application/pidf+xml"

// maxPublications bounds the publications of one presentity, and
// maxSubscriptions the subscriptions the edge holds.
const (
	maxPublications  = 16
	maxSubscriptions = 10000
)

// presence is the embedded presence agent: RFC 3903 event state
// compositor for Event: presence and RFC 3856 notifier.
//
// Concurrency: mu guards pubs, subs and every publication and the
// terminated flag of subscriptions. A subscription's sendMu serializes its
// NOTIFYs so that their CSeq numbers go out in order; sendMu is taken before
// mu, never while holding it.
type presence struct {
	e      *Edge
	mu     sync.Mutex
	pubs   map[string]map[string]*publication // presentity AOR → entity-tag → publication
	subs   map[string]*subscription           // dialog id → subscription
	seq    uint64                             // modification counter
	closed bool
}

// publication is one event state published for a presentity (RFC 3903 §4).
type publication struct {
	aor     string
	etag    string
	body    []byte
	expires time.Time
	seq     uint64 // when the body last changed
	timer   *time.Timer
}

// subscription is a presence subscription dialog (RFC 6665 §4.2).
type subscription struct {
	id        string
	aor       string // presentity
	flow      *flow  // the subscriber's connection: NOTIFYs go there
	callID    string
	localTag  string
	remoteTag string
	eventID   string
	local     sip.Uri   // presentity URI (From of NOTIFY)
	remote    sip.Uri   // subscriber URI (To of NOTIFY)
	target    sip.Uri   // subscriber's Contact (Request-URI of NOTIFY)
	routes    []sip.Uri // the dialog's route set (RFC 3261 §12.1.1)
	contact   sip.Uri   // the edge's Contact in this dialog

	// Guarded by presence.mu.
	expires    time.Time
	timer      *time.Timer
	terminated bool

	sendMu sync.Mutex
	cseq   uint32 // guarded by sendMu
}

func newPresence(e *Edge) *presence {
	return &presence{e: e, pubs: make(map[string]map[string]*publication), subs: make(map[string]*subscription)}
}

// authorizePresentity lets a request act for user: without digest, from a
// flow that registered the user's AOR, or with Proxy-Authorization for that
// user (RFC 3903 §6 step 2 and RFC 3856 §6.4: publishers and subscribers are
// authenticated).
func (e *Edge) authorizePresentity(u *uas, user string) bool {
	if e.digest == nil || e.reg.hasBinding(e.aorKey(user), u.in) {
		return true
	}
	who, ok := e.authenticate(u, "Proxy-Authorization", 407)
	if !ok {
		return false
	}
	if who != user {
		u.respond(403, "Forbidden: not your presentity")
		return false
	}
	return true
}

// lifetime reads the Expires of a PUBLISH or SUBSCRIBE: the default when
// absent, 423 when too brief (RFC 3903 §6 step 5, RFC 6665 §4.2.1.1), capped
// at maxExpires. ok is false when the request has been answered.
func lifetime(u *uas) (int, bool) {
	exp := expiresHeader(u.req)
	if exp < 0 {
		if headerValue(u.req, "Expires") != "" {
			u.respond(400, "Bad Request: bad Expires")
			return 0, false
		}
		exp = defaultExpires
	}
	if exp > 0 && exp < minExpires {
		u.respond(423, "Interval Too Brief", sip.NewHeader("Min-Expires", strconv.Itoa(minExpires)))
		return 0, false
	}
	return min(exp, maxExpires), true
}

// publish serves PUBLISH (RFC 3903 §6): initial, refresh, modify, remove.
func (p *presence) publish(u *uas) {
	e := p.e
	req := u.req
	if pkg, _ := eventPackage(req); pkg != "presence" {
		u.respond(489, "Bad Event", sip.NewHeader("Allow-Events", "presence"))
		return
	}
	user := req.Recipient.User
	if user == "" {
		u.respond(404, "Not Found")
		return
	}
	if !e.authorizePresentity(u, user) {
		return
	}
	exp, ok := lifetime(u)
	if !ok {
		return
	}
	body := req.Body()
	if len(body) > 0 {
		if ct := contentType(req); ct != pidfType {
			u.respond(415, "Unsupported Media Type", sip.NewHeader("Accept", pidfType))
			return
		}
		if err := checkPIDF(body); err != nil {
			u.respond(400, reasonPhrase("Bad Request: "+err.Error()))
			return
		}
	}
	aor := e.aorKey(user)
	ifMatch := headerValue(req, "SIP-If-Match")

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		u.respond(503, "Service Unavailable")
		return
	}
	m := p.pubs[aor]
	var pub *publication
	changed := false
	if ifMatch == "" {
		if len(body) == 0 {
			p.mu.Unlock()
			u.respond(400, "Bad Request: initial PUBLISH without a body")
			return
		}
		if exp == 0 {
			p.mu.Unlock()
			u.respond(400, "Bad Request: initial PUBLISH with Expires: 0")
			return
		}
		if len(m) >= maxPublications {
			p.mu.Unlock()
			u.respond(403, "Forbidden: too many publications")
			return
		}
		if m == nil {
			m = make(map[string]*publication)
			p.pubs[aor] = m
		}
		pub = &publication{aor: aor}
		changed = true
	} else {
		if pub = m[ifMatch]; pub == nil {
			p.mu.Unlock()
			u.respond(412, "Conditional Request Failed")
			return
		}
		delete(m, pub.etag)
		if pub.timer != nil {
			pub.timer.Stop()
		}
		if exp == 0 {
			// Removal (RFC 3903 §4.5).
			if len(m) == 0 {
				delete(p.pubs, aor)
			}
			p.seq++
			p.mu.Unlock()
			// RFC 3903 §6 step 6: the 200 carries a new entity-tag even though no state
			// remains for it to name.
			u.respond(200, "OK", sip.NewHeader("SIP-ETag", newETag()), sip.NewHeader("Expires", "0"))
			p.notifyAll(aor)
			return
		}
		changed = len(body) > 0
	}
	if changed {
		p.seq++
		pub.seq = p.seq
		pub.body = bytes.Clone(body)
	}
	pub.etag = newETag()
	pub.expires = time.Now().Add(time.Duration(exp) * time.Second)
	pp := pub
	pub.timer = p.e.afterFunc(time.Duration(exp)*time.Second, "publication expiry", func() { p.expirePublication(pp) })
	m[pub.etag] = pub
	p.mu.Unlock()

	u.respond(200, "OK", sip.NewHeader("SIP-ETag", pub.etag), sip.NewHeader("Expires", strconv.Itoa(exp)))
	if changed {
		p.notifyAll(aor)
	}
}

func newETag() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// checkPIDF checks that body is a well-formed XML document whose root is a
// PIDF presence element (RFC 3863 §4.1).
func checkPIDF(body []byte) error {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("body is not a PIDF document")
			}
			return errors.New("body is not well-formed XML")
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "presence" || se.Name.Space != "urn:ietf:params:xml:ns:pidf" {
				return errors.New("root element is not PIDF presence")
			}
			// The rest must be well-formed too.
			for {
				if _, err := d.Token(); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return errors.New("body is not well-formed XML")
				}
			}
		}
	}
}

func (p *presence) expirePublication(pub *publication) {
	p.mu.Lock()
	m := p.pubs[pub.aor]
	if m[pub.etag] != pub || time.Now().Before(pub.expires) {
		p.mu.Unlock()
		return
	}
	delete(m, pub.etag)
	if len(m) == 0 {
		delete(p.pubs, pub.aor)
	}
	p.seq++
	p.mu.Unlock()
	p.notifyAll(pub.aor)
}

// document returns the presence document of aor (RFC 3903 §4 composition,
// simplest policy: the most recently changed publication wins), or a
// "closed" document when nothing is published (RFC 3856 §6.6.2).
func (p *presence) documentLocked(aor string) []byte {
	var best *publication
	for _, pub := range p.pubs[aor] {
		if best == nil || pub.seq > best.seq {
			best = pub
		}
	}
	if best != nil {
		return best.body
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\r\n")
	b.WriteString(`<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="`)
	xml.EscapeText(&b, []byte(aor))
	b.WriteString(`">` + "\r\n")
	b.WriteString(`<tuple id="simplegw"><status><basic>closed</basic></status></tuple>` + "\r\n")
	b.WriteString(`</presence>` + "\r\n")
	return []byte(b.String())
}

// subscribe serves SUBSCRIBE with Event: presence (RFC 6665 §4.2.1,
// RFC 3856 §6): an initial one creates a subscription dialog, one inside the
// dialog refreshes or ends it; each is followed by a NOTIFY.
func (p *presence) subscribe(u *uas) {
	e := p.e
	req := u.req
	if accept := strings.ToLower(headerValue(req, "Accept")); accept != "" &&
		!strings.Contains(accept, pidfType) && !strings.Contains(accept, "*/*") && !strings.Contains(accept, "application/*") {
		u.respond(406, "Not Acceptable", sip.NewHeader("Accept", pidfType))
		return
	}
	// The subscriber must be who its From says (RFC 3856 §6.4 requires the
	// notifier to authenticate subscribers); which presentities it may watch
	// is not restricted.
	if !e.authorizePresentity(u, req.From().Address.User) {
		return
	}
	exp, ok := lifetime(u)
	if !ok {
		return
	}
	_, eventID := eventPackage(req)
	fromTag, _ := req.From().Params.Get("tag")
	callID := req.CallID().Value()
	if toTag, ok := req.To().Params.Get("tag"); ok {
		p.refresh(u, dialogID(callID, toTag, fromTag, eventID), exp)
		return
	}
	user := req.Recipient.User
	if user == "" {
		u.respond(404, "Not Found")
		return
	}
	contact := req.Contact()
	if contact == nil {
		u.respond(400, "Bad Request: SUBSCRIBE without Contact")
		return
	}
	if fromTag == "" {
		u.respond(400, "Bad Request: From without tag")
		return
	}
	sub := &subscription{
		aor:       e.aorKey(user),
		flow:      u.in,
		callID:    callID,
		localTag:  newTag(),
		remoteTag: fromTag,
		eventID:   eventID,
		local:     *req.To().Address.Clone(),
		remote:    *req.From().Address.Clone(),
		target:    *contact.Address.Clone(),
	}
	sub.id = dialogID(callID, sub.localTag, fromTag, eventID)
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			sub.routes = append(sub.routes, *rr.Address.Clone())
		}
	}
	sub.contact = e.routeURI(u.in, "")
	sub.contact.User = user
	sub.contact.UriParams.Remove("lr")

	res := newResponse(req, 200, "OK")
	res.To().Params.Add("tag", sub.localTag)
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(exp)))
	res.AppendHeader(&sip.ContactHeader{Address: sub.contact})

	if exp == 0 {
		// A fetch (RFC 6665 §4.4.3): one NOTIFY, no subscription kept.
		u.send(res)
		sub.terminated = true
		p.notify(sub, "terminated;reason=timeout")
		return
	}
	p.mu.Lock()
	if p.closed || len(p.subs) >= maxSubscriptions {
		p.mu.Unlock()
		u.respond(503, "Service Unavailable")
		return
	}
	sub.expires = time.Now().Add(time.Duration(exp) * time.Second)
	sub.timer = p.e.afterFunc(time.Duration(exp)*time.Second, "subscription expiry", func() { p.expireSubscription(sub) })
	p.subs[sub.id] = sub
	p.mu.Unlock()
	u.send(res)
	p.notify(sub, "")
}

// refresh handles a SUBSCRIBE inside an existing dialog (RFC 6665 §4.2.1.2):
// new expiry, or the end of the subscription with Expires: 0.
func (p *presence) refresh(u *uas, id string, exp int) {
	p.mu.Lock()
	sub := p.subs[id]
	if sub == nil || sub.terminated {
		p.mu.Unlock()
		u.respond(481, "Call/Transaction Does Not Exist")
		return
	}
	if sub.timer != nil {
		sub.timer.Stop()
	}
	if exp == 0 {
		sub.terminated = true
		delete(p.subs, id)
	} else {
		sub.expires = time.Now().Add(time.Duration(exp) * time.Second)
		sub.timer = p.e.afterFunc(time.Duration(exp)*time.Second, "subscription expiry", func() { p.expireSubscription(sub) })
	}
	p.mu.Unlock()
	u.respond(200, "OK", sip.NewHeader("Expires", strconv.Itoa(exp)), &sip.ContactHeader{Address: sub.contact})
	if exp == 0 {
		p.notify(sub, "terminated;reason=timeout")
		return
	}
	p.notify(sub, "")
}

func dialogID(callID, localTag, remoteTag, eventID string) string {
	return callID + "\x00" + localTag + "\x00" + remoteTag + "\x00" + eventID
}

func (p *presence) expireSubscription(sub *subscription) {
	p.mu.Lock()
	if sub.terminated || p.subs[sub.id] != sub || time.Now().Before(sub.expires) {
		p.mu.Unlock()
		return
	}
	sub.terminated = true
	delete(p.subs, sub.id)
	p.mu.Unlock()
	p.notify(sub, "terminated;reason=timeout")
}

// notifyAll sends the current state of aor to each of its subscribers.
func (p *presence) notifyAll(aor string) {
	p.mu.Lock()
	var subs []*subscription
	for _, s := range p.subs {
		if s.aor == aor {
			subs = append(subs, s)
		}
	}
	p.mu.Unlock()
	for _, s := range subs {
		p.notify(s, "")
	}
}

// notify sends a NOTIFY with the current presence document (RFC 6665
// §4.2.2, RFC 3856 §6.6). state is the Subscription-State; "" means active
// with the time left.
func (p *presence) notify(sub *subscription, state string) {
	e := p.e
	sub.sendMu.Lock()
	defer sub.sendMu.Unlock()
	p.mu.Lock()
	if state == "" {
		if sub.terminated || p.closed {
			p.mu.Unlock()
			return
		}
		left := int(time.Until(sub.expires).Round(time.Second) / time.Second)
		state = "active;expires=" + strconv.Itoa(max(left, 0))
	}
	body := p.documentLocked(sub.aor)
	p.mu.Unlock()
	if !sub.flow.alive() {
		p.remove(sub)
		return
	}
	sub.cseq++
	req := sip.NewRequest(sip.NOTIFY, *sub.target.Clone())
	for _, r := range sub.routes {
		req.AppendHeader(&sip.RouteHeader{Address: *r.Clone()})
	}
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{Address: *sub.local.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", sub.localTag)
	req.AppendHeader(from)
	to := &sip.ToHeader{Address: *sub.remote.Clone(), Params: sip.NewParams()}
	to.Params.Add("tag", sub.remoteTag)
	req.AppendHeader(to)
	cid := sip.CallIDHeader(sub.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: sub.cseq, MethodName: sip.NOTIFY})
	req.AppendHeader(&sip.ContactHeader{Address: *sub.contact.Clone()})
	event := "presence"
	if sub.eventID != "" {
		event += ";id=" + sub.eventID
	}
	req.AppendHeader(sip.NewHeader("Event", event))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	setBody(req, pidfType, body)
	out := e.forwardCopy(req, nil, sub.flow)
	// forwardCopy counted a hop the NOTIFY has not made.
	mf = sip.MaxForwardsHeader(70)
	out.ReplaceHeader(&mf)
	_, err := e.startClientTx(out, sub.flow, txHandlers{
		response: func(res *sip.Response) {
			// RFC 6665 §4.2.2: a 481 or another failure ends the subscription.
			if res.StatusCode >= 300 {
				p.remove(sub)
			}
		},
		done: func(err error, gone bool) {
			if gone || isTimeout(err) {
				p.remove(sub)
			}
		},
	})
	if err != nil {
		e.log.Debug("NOTIFY not sent", "error", err)
	}
}

// remove ends a subscription without a NOTIFY.
func (p *presence) remove(sub *subscription) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sub.terminated = true
	if sub.timer != nil {
		sub.timer.Stop()
	}
	if p.subs[sub.id] == sub {
		delete(p.subs, sub.id)
	}
}

// flowClosed ends the subscriptions whose subscriber was on a closed
// connection.
func (p *presence) flowClosed(f *flow) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, s := range p.subs {
		if s.flow == f {
			s.terminated = true
			if s.timer != nil {
				s.timer.Stop()
			}
			delete(p.subs, id)
		}
	}
}

func (p *presence) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, m := range p.pubs {
		for _, pub := range m {
			if pub.timer != nil {
				pub.timer.Stop()
			}
		}
	}
	for _, s := range p.subs {
		s.terminated = true
		if s.timer != nil {
			s.timer.Stop()
		}
	}
	p.pubs = make(map[string]map[string]*publication)
	p.subs = make(map[string]*subscription)
}
