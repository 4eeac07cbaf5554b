package sipedge

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Reason phrases of the embedded-mode admission policy (see the package
// documentation, "Admission").
const (
	reasonRelay = "Forbidden: relaying requires a registered client"
	reasonFrom  = "From does not match the sender's registration"
)

// spoofable lists the methods whose From is checked when they start a
// dialog or stand alone (no To tag): RFC 3261 §26.3.2.2, RFC 3428 §11.1.
func spoofable(m sip.RequestMethod) bool {
	switch m {
	case sip.MESSAGE, sip.INVITE, sip.SUBSCRIBE, sip.PUBLISH, sip.OPTIONS, sip.REFER:
		return true
	}
	return false
}

// admit applies the embedded-mode admission rules to a request the edge is
// about to proxy, and answers it 403 when they refuse it. relay is true when
// the next hop is neither a local user's registered contact nor a flow named
// by one of the edge's flow tokens (RFC 3261 §26.3.2.4: no open relay).
// Upstream mode admits everything: the core is in charge of policy.
func (e *Edge) admit(u *uas, work *sip.Request, relay bool) bool {
	if e.upstream != nil {
		return true
	}
	if relay && !e.reg.registered(u.in) {
		u.respond(403, reasonRelay)
		return false
	}
	if !spoofable(work.Method) {
		return true
	}
	if to := work.To(); to != nil && to.Params.Has("tag") {
		return true
	}
	from := work.From()
	if from == nil || from.Address.User == "" || !e.isLocal(&from.Address) {
		return true
	}
	if !e.reg.hasBinding(e.aorKey(from.Address.User), u.in) {
		u.respond(403, reasonFrom)
		return false
	}
	return true
}

// relayTarget reports whether sending to ruri would relay: ruri is not a
// contact registered for a local address-of-record.
func (e *Edge) relayTarget(ruri *sip.Uri) bool {
	return e.reg.flowForContact(ruri) == nil
}

// namesUpstream reports whether u designates the configured core (same host
// and port), so that a Route set starting with it is the core's own.
func (e *Edge) namesUpstream(u *sip.Uri) bool {
	hop, err := hopFromURI(u)
	return err == nil && strings.EqualFold(hop.host, e.upstream.host) && hop.port == e.upstream.port
}
