package sipedge

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/simplegw/simplegw/bridge/auth"
)

// Registration and publication lifetimes in seconds (RFC 3261 §10.2.1.1,
// §10.3 step 7; RFC 3903 §6). minExpires is a variable so tests can use
// short lifetimes.
var minExpires = 60

const (
	defaultExpires = 3600
	maxExpires     = 3600
	// maxBindings bounds the contacts of one address-of-record.
	maxBindings = 16
)

// registrar is the embedded registrar (RFC 3261 §10.3): it binds an
// address-of-record to contacts, each reached over the flow its REGISTER
// came from.
//
// Concurrency: mu guards aors and every binding in it.
type registrar struct {
	e      *Edge
	mu     sync.Mutex
	aors   map[string]map[string]*binding // AOR → binding key → binding
	closed bool
	// expired, when set (by tests, before use), is called after a binding
	// expired and was removed.
	expired func(aor string)
}

// binding is one contact of an address-of-record.
type binding struct {
	aor     string
	key     string             // "+sip.instance|reg-id" (RFC 5626 §6) or the contact URI
	contact *sip.ContactHeader // as registered, without expires
	flow    *flow              // where requests for the contact go
	callID  string
	cseq    uint32
	expires time.Time
	timer   *time.Timer
}

func newRegistrar(e *Edge) *registrar {
	return &registrar{e: e, aors: make(map[string]map[string]*binding)}
}

// aorKey is the address-of-record of user in the embedded domain.
func (e *Edge) aorKey(user string) string {
	return "sip:" + user + "@" + e.domain
}

// authenticate checks the digest credentials of u's request in header
// (Authorization or Proxy-Authorization) and answers it when they do not
// pass: 401/407 with a challenge (RFC 3261 §22.2, §22.3), 403 for wrong
// credentials, 400 for a malformed header. It returns the identity (the
// NAME of the username) and whether the request may proceed.
func (e *Edge) authenticate(u *uas, header string, challengeCode int) (string, bool) {
	creds, err := e.digest.Verify(headerValue(u.req, header), string(u.req.Method), u.req.Recipient.String())
	challenge := "WWW-Authenticate"
	reason := "Unauthorized"
	if challengeCode == 407 {
		challenge, reason = "Proxy-Authenticate", "Proxy Authentication Required"
	}
	switch {
	case err == nil:
		return auth.Name(creds.Username), true
	case errors.Is(err, auth.ErrNoCredentials):
		u.respond(challengeCode, reason, sip.NewHeader(challenge, e.digest.Challenge(false)))
	case errors.Is(err, auth.ErrStaleNonce):
		u.respond(challengeCode, reason, sip.NewHeader(challenge, e.digest.Challenge(true)))
	case errors.Is(err, auth.ErrForbidden):
		u.respond(403, "Forbidden")
	default:
		u.respond(400, "Bad Request: malformed credentials")
	}
	return "", false
}

// register serves a REGISTER for the embedded domain (RFC 3261 §10.3).
func (r *registrar) register(u *uas) {
	e := r.e
	req := u.req
	to := req.To().Address
	if !e.isLocal(&to) {
		u.respond(404, "Not Found: not a domain of this registrar")
		return
	}
	if to.User == "" {
		u.respond(400, "Bad Request: To has no user part")
		return
	}
	if e.digest != nil {
		who, ok := e.authenticate(u, "Authorization", 401)
		if !ok {
			return
		}
		if who != to.User {
			u.respond(403, "Forbidden: not your address-of-record")
			return
		}
	}
	aor := e.aorKey(to.User)

	// Collect the requested changes (§10.3 steps 6 and 7) before applying any.
	type change struct {
		key     string
		contact *sip.ContactHeader
		expires int
	}
	var changes []change
	wildcard := false
	hdrExpires := expiresHeader(req)
	for _, h := range req.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			u.respond(400, "Bad Request: malformed Contact")
			return
		}
		if c.Address.Wildcard {
			wildcard = true
			continue
		}
		if c.Address.Scheme != "sip" && c.Address.Scheme != "sips" {
			u.respond(400, "Bad Request: Contact is not a SIP URI")
			return
		}
		exp := hdrExpires
		if v, ok := c.Params.Get("expires"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				u.respond(400, "Bad Request: bad expires parameter")
				return
			}
			exp = n
		}
		if exp < 0 {
			exp = defaultExpires
		}
		if exp > 0 && exp < minExpires {
			u.respond(423, "Interval Too Brief", sip.NewHeader("Min-Expires", strconv.Itoa(minExpires)))
			return
		}
		exp = min(exp, maxExpires)
		stored := c.Clone()
		stored.Params.Remove("expires")
		changes = append(changes, change{key: bindingKey(c), contact: stored, expires: exp})
	}
	if wildcard && (len(changes) > 0 || hdrExpires != 0) {
		u.respond(400, "Bad Request: Contact * needs Expires: 0 and no other Contact")
		return
	}
	callID := req.CallID().Value()
	cseq := req.CSeq().SeqNo

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		u.respond(503, "Service Unavailable")
		return
	}
	now := time.Now()
	for _, c := range changes {
		if c.expires > 0 && r.contactTakenLocked(&c.contact.Address, u.in, now) {
			r.mu.Unlock()
			u.respond(403, "Forbidden: contact bound over another connection")
			return
		}
	}
	m := r.aors[aor]
	for _, c := range changes {
		if b := m[c.key]; b != nil && b.callID == callID && b.cseq >= cseq {
			r.mu.Unlock()
			u.respond(500, "Server Internal Error: REGISTER out of order")
			return
		}
	}
	if m == nil {
		m = make(map[string]*binding)
		r.aors[aor] = m
	}
	if wildcard {
		for k, b := range m {
			if b.callID != callID || b.cseq < cseq {
				r.removeLocked(m, k, b)
			}
		}
	}
	for _, c := range changes {
		b := m[c.key]
		if c.expires == 0 {
			if b != nil {
				r.removeLocked(m, c.key, b)
			}
			continue
		}
		if b == nil {
			if len(m) >= maxBindings {
				r.mu.Unlock()
				u.respond(403, "Forbidden: too many contacts")
				return
			}
			b = &binding{aor: aor, key: c.key}
			m[c.key] = b
		}
		b.contact, b.flow, b.callID, b.cseq = c.contact, u.in, callID, cseq
		b.expires = now.Add(time.Duration(c.expires) * time.Second)
		if b.timer != nil {
			b.timer.Stop()
		}
		bb := b
		b.timer = r.e.afterFunc(time.Duration(c.expires)*time.Second, "binding expiry", func() { r.expire(bb) })
	}
	res := newResponse(req, 200, "OK")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b := m[k]
		c := b.contact.Clone()
		if c.Params == nil {
			c.Params = sip.NewParams()
		}
		left := int(time.Until(b.expires).Round(time.Second) / time.Second)
		c.Params.Add("expires", strconv.Itoa(max(left, 0)))
		res.AppendHeader(c)
	}
	if len(m) == 0 {
		delete(r.aors, aor)
	}
	r.mu.Unlock()
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	u.send(res)
}

// bindingKey identifies a contact: its RFC 5626 instance and reg-id when
// present, otherwise its URI.
func bindingKey(c *sip.ContactHeader) string {
	if inst, ok := c.Params.Get("+sip.instance"); ok && inst != "" {
		regID, _ := c.Params.Get("reg-id")
		return "instance " + inst + " " + regID
	}
	return "uri " + c.Address.String()
}

func (r *registrar) removeLocked(m map[string]*binding, key string, b *binding) {
	if b.timer != nil {
		b.timer.Stop()
	}
	delete(m, key)
}

func (r *registrar) expire(b *binding) {
	r.mu.Lock()
	m := r.aors[b.aor]
	if m[b.key] != b || time.Now().Before(b.expires) {
		r.mu.Unlock()
		return
	}
	delete(m, b.key)
	if len(m) == 0 {
		delete(r.aors, b.aor)
	}
	hook := r.expired
	r.mu.Unlock()
	if hook != nil {
		hook(b.aor)
	}
}

// targets returns where a request for aor goes: each live binding, with the
// contact as Request-URI (RFC 3261 §16.5), highest q first.
func (r *registrar) targets(aor string) []target {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	var bs []*binding
	for _, b := range r.aors[aor] {
		if now.Before(b.expires) && b.flow.alive() {
			bs = append(bs, b)
		}
	}
	sort.Slice(bs, func(i, j int) bool {
		qi, qj := q(bs[i].contact), q(bs[j].contact)
		if qi != qj {
			return qi > qj
		}
		return bs[i].key < bs[j].key
	})
	ts := make([]target, 0, len(bs))
	for _, b := range bs {
		ruri := b.contact.Address.Clone()
		ts = append(ts, target{flow: b.flow, ruri: ruri, goneCode: 480, goneReason: "Temporarily Unavailable"})
	}
	return ts
}

func q(c *sip.ContactHeader) float64 {
	v, ok := c.Params.Get("q")
	if !ok {
		return 1
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 1
	}
	return f
}

// flowForContact returns the flow of the live binding whose contact is u (a
// browser's ".invalid" contact used as a Request-URI), or nil. Since
// register refuses a ".invalid" contact already bound over another flow
// (contactTakenLocked), at most one flow matches.
func (r *registrar) flowForContact(u *sip.Uri) *flow {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for _, m := range r.aors {
		for _, b := range m {
			if sameContact(&b.contact.Address, u) && now.Before(b.expires) && b.flow.alive() {
				return b.flow
			}
		}
	}
	return nil
}

// contactTakenLocked reports whether the ".invalid" contact u (RFC 7118 §5:
// reachable only through the connection that registered it) is bound, under
// any address-of-record, over a live flow other than f. Registering it again
// from another connection would divert that browser's requests, so register
// refuses it.
func (r *registrar) contactTakenLocked(u *sip.Uri, f *flow, now time.Time) bool {
	if !isInvalidHost(u.Host) {
		return false
	}
	for _, m := range r.aors {
		for _, b := range m {
			if sameContact(&b.contact.Address, u) && !b.flow.same(f) && now.Before(b.expires) && b.flow.alive() {
				return true
			}
		}
	}
	return false
}

// sameContact compares the parts of two contact URIs that flowForContact
// routes by: user, host (case-insensitive) and port.
func sameContact(a, u *sip.Uri) bool {
	return a.User == u.User && strings.EqualFold(a.Host, u.Host) && a.Port == u.Port
}

// hasBinding reports whether aor has a binding registered over flow f.
func (r *registrar) hasBinding(aor string, f *flow) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.aors[aor] {
		if b.flow.same(f) && time.Now().Before(b.expires) {
			return true
		}
	}
	return false
}

// registered reports whether f holds a live binding of any address-of-record:
// the flow belongs to a client that registered (and so authenticated, when
// digest is configured) over it.
func (r *registrar) registered(f *flow) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for _, m := range r.aors {
		for _, b := range m {
			if b.flow.same(f) && now.Before(b.expires) {
				return true
			}
		}
	}
	return false
}

// flowClosed removes the bindings reached over a closed connection: the
// contact can no longer be reached (RFC 5626 §7 lets the registrar drop a
// binding whose flow failed).
func (r *registrar) flowClosed(f *flow) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for aor, m := range r.aors {
		for k, b := range m {
			if b.flow == f {
				r.removeLocked(m, k, b)
			}
		}
		if len(m) == 0 {
			delete(r.aors, aor)
		}
	}
}

func (r *registrar) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for aor, m := range r.aors {
		for k, b := range m {
			r.removeLocked(m, k, b)
		}
		delete(r.aors, aor)
	}
}
