package sipua

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// retryAfterFailure is how long a failed refresh waits before trying again (RFC 3261
// §10.2.7: not at once), bounded by what is left of the registration.
const retryAfterFailure = 30 * time.Second

// registration is the UA's binding at the registrar (RFC 3261 §10.2): one Call-ID for
// the UA's life, CSeq counting up (§10.2.4).
//
// Concurrency: mu guards cseq and expires, and serialises REGISTER transactions.
type registration struct {
	ua      *UA
	callID  string
	fromTag string

	mu      sync.Mutex
	cseq    uint32
	expires int // seconds last granted; 0 when not registered

	started  bool // the refresh loop was started; guarded by mu
	stopped  bool // stop was called; guarded by mu
	stopOnce sync.Once
	quit     chan struct{} // closed by stop
	loopDone chan struct{} // closed when the refresh loop has returned
}

// Register binds the AOR to the UA's contact (RFC 3261 §10.2.1) and keeps the binding
// refreshed at half of each granted interval until Unregister or Close. It returns the
// interval the registrar granted. A refusal is a *StatusError.
func (ua *UA) Register(ctx context.Context) (time.Duration, error) {
	ua.mu.Lock()
	if ua.reg == nil {
		ua.reg = &registration{ua: ua, callID: randHex(12) + "@" + ua.contact.Host, fromTag: newTag(),
			quit: make(chan struct{}), loopDone: make(chan struct{})}
	}
	r := ua.reg
	ua.mu.Unlock()
	granted, err := r.send(ctx, ua.cfg.Expires)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	start := !r.started && !r.stopped
	r.started = r.started || start
	r.mu.Unlock()
	if start {
		go r.loop()
	}
	return granted, nil
}

// Unregister removes the UA's binding (Expires: 0, RFC 3261 §10.2.2) and stops the
// refreshes.
func (ua *UA) Unregister(ctx context.Context) error {
	ua.mu.Lock()
	r := ua.reg
	ua.reg = nil
	ua.mu.Unlock()
	if r == nil {
		return errors.New("sipua: not registered")
	}
	r.stop()
	_, err := r.send(ctx, 0)
	return err
}

// stop ends the refresh loop and waits for it.
func (r *registration) stop() {
	r.stopOnce.Do(func() { close(r.quit) })
	r.mu.Lock()
	started := r.started
	r.stopped = true // no loop may start any more
	r.mu.Unlock()
	if started {
		<-r.loopDone
	}
}

// loop refreshes the registration at half the granted interval.
func (r *registration) loop() {
	defer close(r.loopDone)
	for {
		r.mu.Lock()
		left := time.Duration(r.expires) * time.Second
		r.mu.Unlock()
		t := time.NewTimer(max(left/2, time.Second))
		select {
		case <-r.quit:
			t.Stop()
			return
		case <-r.ua.done:
			t.Stop()
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 64*r.ua.t1)
		go func() {
			select {
			case <-r.quit:
			case <-ctx.Done():
			}
			cancel()
		}()
		_, err := r.send(ctx, r.ua.cfg.Expires)
		cancel()
		if err != nil {
			r.ua.log.Warn("registration refresh failed", "aor", r.ua.AOR(), "error", err)
			wait := time.NewTimer(min(retryAfterFailure, max(left/4, time.Second)))
			select {
			case <-r.quit:
				wait.Stop()
				return
			case <-r.ua.done:
				wait.Stop()
				return
			case <-wait.C:
			}
		}
	}
}

// send sends one REGISTER asking for expires seconds (0 removes the binding) and
// returns the interval granted. 423 is answered once with Min-Expires (§10.2.8).
func (r *registration) send(ctx context.Context, expires int) (time.Duration, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ua := r.ua
	for attempt := 0; ; attempt++ {
		r.cseq++
		req := r.build(expires)
		res, err := ua.do(ctx, req, func() uint32 { r.cseq++; return r.cseq })
		if err != nil {
			return 0, err
		}
		if res.StatusCode == 423 && attempt == 0 && expires > 0 {
			if h := res.GetHeader("Min-Expires"); h != nil {
				if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n > expires {
					expires = n
					continue
				}
			}
		}
		if !res.IsSuccess() {
			return 0, statusError(res)
		}
		if expires == 0 {
			r.expires = 0
			return 0, nil
		}
		r.expires = r.granted(res, expires)
		return time.Duration(r.expires) * time.Second, nil
	}
}

// build is a REGISTER (RFC 3261 §10.2): Request-URI the domain of the AOR, To and From
// the AOR, our Contact, Expires.
func (r *registration) build(expires int) *sip.Request {
	ua := r.ua
	ruri := sip.Uri{Scheme: ua.aor.Scheme, Host: ua.aor.Host, Port: ua.aor.Port}
	aor := *ua.aor.Clone()
	from := sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", r.fromTag)
	req := ua.newRequest(sip.REGISTER, ruri, from, sip.ToHeader{Address: *ua.aor.Clone(), Params: sip.NewParams()}, r.callID, r.cseq)
	req.AppendHeader(ua.contactHeader())
	exp := sip.ExpiresHeader(expires)
	req.AppendHeader(&exp)
	req.AppendHeader(sip.NewHeader("Allow", allowed))
	return req
}

// granted is the interval of our contact in a 200 (RFC 3261 §10.2.4): its expires
// parameter, else the Expires header, else what was asked.
func (r *registration) granted(res *sip.Response, asked int) int {
	me := r.ua.contact
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok || c.Address.User != me.User || !strings.EqualFold(c.Address.Host, me.Host) || c.Address.Port != me.Port {
			continue
		}
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return n
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n > 0 {
			return n
		}
	}
	return asked
}
