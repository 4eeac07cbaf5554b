// Package relay is simplegw's MSRP relay: an RFC 4976 relay with the RFC 7977 WebSocket
// transport, so browsers (MSRP over WebSocket) and native MSRP endpoints and relays (TCP, TLS)
// reach each other.
//
// It implements:
//   - RFC 4976 §6.1–6.3: incoming connections, the 30-second probation, AUTH with HTTP Digest
//     (401 challenge, 403, 423 with Min-/Max-Expires, 200 with Use-Path, Expires and
//     Authentication-Info); a relay URI carries 128 random bits, is valid only on the
//     connection that obtained it, and dies with that connection or at its expiry.
//   - RFC 4976 §6.4: forwarding. The relay's URI moves from the front of To-Path to the front
//     of From-Path, every forwarded request gets a new transaction id, SEND chunks may be
//     split (never merged) with their Byte-Range kept right, unknown methods (NICKNAME of
//     RFC 7701 among them) are forwarded like REPORT, and responses retrace the path hop by hop.
//   - RFC 4976 §6.4.1: with Failure-Report "yes" the relay answers the previous hop itself and
//     owns delivery: a non-200 from the next hop, a failed connection, or no response within
//     the transaction timeout (30 s) after the last byte ends in a REPORT to the sender.
//   - RFC 4975 §5.4 and RFC 4976 §6.4.2: connection reuse — a request goes over a connection
//     already open to its next hop (one the peer opened, or one the relay dialled) before a
//     new one is dialled.
//   - RFC 7977 §5.1 and §8.3: one chunk per WebSocket message, large chunks from TCP peers
//     re-chunked toward WebSocket clients, and two WebSocket clients of one relay connected
//     through it without a socket (the relay hands the chunk to itself).
//
// Memory is bounded per connection: chunks stream through in pieces of at most
// Config.PieceSize bytes, and a reader blocks while the connection it forwards to is slow,
// which stops reading from the producer (backpressure).
package relay

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/simplegw/simplegw/bridge/auth"
	"github.com/simplegw/simplegw/bridge/msrp"
	"github.com/simplegw/simplegw/bridge/netbuf"
)

// Config configures a Relay. Zero fields take the defaults noted.
type Config struct {
	// Digest authenticates AUTH requests (RFC 4976 §9.1). Required.
	Digest *auth.Digest
	// PublicHost is the host name put in Use-Path URIs: the name peers use to reach the
	// relay's TCP/TLS listeners. Default: the listener's own address.
	PublicHost string
	// TLSConfig is the client configuration for dialling msrps:// peers. Nil: system roots.
	TLSConfig *tls.Config
	// Expires bounds (RFC 4976 §4.6, §6.3). Defaults: 30 s, 24 h, 1 h.
	MinExpires, MaxExpires, DefaultExpires time.Duration
	// TransactionTimeout is how long the relay waits for the next hop's response after the
	// last byte of a request (RFC 4976 §6.4.1: 30 s). Default 30 s.
	TransactionTimeout time.Duration
	// PieceSize is the largest piece of a chunk body the relay reads from a TCP/TLS stream and
	// forwards as one chunk, and so the largest chunk a TCP peer's message becomes toward a
	// WebSocket client (RFC 7977 §5.1). Chunks from WebSocket clients (at most
	// MaxWebSocketMessage each) pass whole. Default 64 KiB.
	PieceSize int
	// MaxWebSocketMessage bounds one incoming WebSocket message (one chunk). Default 1 MiB.
	MaxWebSocketMessage int
	// DialTimeout bounds a connection attempt to a next hop. Default 10 s.
	DialTimeout time.Duration
	// WriteTimeout bounds one write to a connection; a peer that reads nothing for this long
	// is disconnected. Default 60 s.
	WriteTimeout time.Duration
	// Probation is how long a new TCP/TLS connection may stay without sending a request
	// (RFC 4976 §6.1: 30 s).
	Probation time.Duration
	Logger    *slog.Logger
}

const (
	maxBindingsPerConn = 256
	maxAuthFailures    = 5 // RFC 4976 §6.3: several failed AUTHs end the connection
)

// Relay is an MSRP relay. Create it with New, hand it listeners and WebSocket connections,
// and Close it when done.
//
// Concurrency: every connection has one reading goroutine, which parses, routes and writes
// what it forwards to the destination connection itself (so a slow destination slows its
// producer). mu guards the tables below it; a conn's own fields say who guards them.
type Relay struct {
	cfg Config
	log *slog.Logger

	mu        sync.RWMutex
	bindings  map[string]*binding // session-id of a relay URI → binding
	peers     map[string]*conn    // peer URI key → connection it sends from (RFC 4976 §6.4.3)
	outbound  map[string]*dial    // authority key → connection we dialled or are dialling
	conns     map[*conn]struct{}
	listeners []listenerAddr
	closed    bool
	done      chan struct{}
}

// binding is a relay URI handed out in a Use-Path (RFC 4976 §6.3).
type binding struct {
	uri     msrp.URI
	owner   *conn
	expires time.Time
}

type listenerAddr struct {
	ln     net.Listener
	secure bool
}

type dial struct {
	ready chan struct{} // closed when c or err is set
	c     *conn
	err   error
}

// New returns a Relay.
func New(cfg Config) (*Relay, error) {
	if cfg.Digest == nil {
		return nil, errors.New("relay: Config.Digest is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.MinExpires, 30*time.Second)
	def(&cfg.MaxExpires, 24*time.Hour)
	def(&cfg.DefaultExpires, time.Hour)
	def(&cfg.TransactionTimeout, 30*time.Second)
	def(&cfg.DialTimeout, 10*time.Second)
	def(&cfg.WriteTimeout, 60*time.Second)
	def(&cfg.Probation, 30*time.Second)
	if cfg.PieceSize <= 0 {
		cfg.PieceSize = 64 << 10
	}
	if cfg.PieceSize < msrp.MaxNonSendBody {
		cfg.PieceSize = msrp.MaxNonSendBody
	}
	if cfg.MaxWebSocketMessage <= 0 {
		cfg.MaxWebSocketMessage = 1 << 20
	}
	if cfg.DefaultExpires < cfg.MinExpires || cfg.DefaultExpires > cfg.MaxExpires {
		return nil, errors.New("relay: DefaultExpires outside [MinExpires, MaxExpires]")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Relay{
		cfg:      cfg,
		log:      log,
		bindings: make(map[string]*binding),
		peers:    make(map[string]*conn),
		outbound: make(map[string]*dial),
		conns:    make(map[*conn]struct{}),
		done:     make(chan struct{}),
	}
	go r.sweeper()
	return r, nil
}

// sweeper is the relay's one clock: it fails transactions whose next hop did not answer in
// time and drops connections whose peer stopped reading, so that no per-message timer and
// no per-write deadline is needed on the hot path.
func (r *Relay) sweeper() {
	tick := min(r.cfg.TransactionTimeout/4, r.cfg.WriteTimeout/4, time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	var conns []*conn
	for {
		select {
		case <-r.done:
			return
		case now := <-t.C:
			conns = conns[:0]
			r.mu.RLock()
			for c := range r.conns {
				conns = append(conns, c)
			}
			r.mu.RUnlock()
			for _, c := range conns {
				c.sweep(now, r.cfg.WriteTimeout)
			}
			clear(conns)
		}
	}
}

// ServeTCP accepts msrp:// connections on ln until ln fails or the relay closes. Peers and
// native clients connect here; the listener's address names the relay in Use-Path URIs.
func (r *Relay) ServeTCP(ln net.Listener) error { return r.serve(ln, false) }

// ServeTLS is ServeTCP for msrps://; ln must already be a TLS listener (tls.NewListener).
func (r *Relay) ServeTLS(ln net.Listener) error { return r.serve(ln, true) }

func (r *Relay) serve(ln net.Listener, secure bool) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return net.ErrClosed
	}
	r.listeners = append(r.listeners, listenerAddr{ln: ln, secure: secure})
	r.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-r.done:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := newStreamConn(r, nc, secure, false)
		c.listener = ln
		if !r.track(c) {
			nc.Close()
			return nil
		}
		go c.serveStream()
	}
}

// ServeWebSocket runs one MSRP-over-WebSocket connection (RFC 7977) until it closes or ctx
// is done. The caller has accepted it with the "msrp" subprotocol and checked its Origin.
func (r *Relay) ServeWebSocket(ctx context.Context, ws *websocket.Conn) {
	ended := make(chan struct{})
	r.ServeWebSocketConn(ctx, ws, nil, func() { close(ended) })
	<-ended
}

// errGoingAway closes a WebSocket whose ServeWebSocketConn context ended (1001).
var errGoingAway = &closeError{code: websocket.StatusGoingAway, msg: "going away"}

// ServeWebSocketConn serves a WebSocket accepted on nc (the caller's HTTP hijacker handed nc
// to coder/websocket) and returns at once; done runs when the connection has ended (closed
// by either side, or ctx done: then with 1001 "going away"). On nc the relay gathers what it writes and flushes it before
// its reader waits, so that a burst of chunks costs one system call per destination rather
// than one per chunk and response, and an idle connection waits on a goroutine with a small
// stack (see package netbuf). A nil nc serves ws without either.
func (r *Relay) ServeWebSocketConn(ctx context.Context, ws *websocket.Conn, nc *netbuf.Conn, done func()) {
	ws.SetReadLimit(int64(r.cfg.MaxWebSocketMessage))
	c := newWSConn(r, ws, nc)
	c.done = done
	if !r.track(c) {
		ws.Close(websocket.StatusGoingAway, "relay shutting down")
		done()
		return
	}
	if ctx.Done() != nil {
		// One callback for the connection's life, not a context per read.
		c.stop = context.AfterFunc(ctx, func() { c.close(errGoingAway) })
	}
	go c.serveWebSocket(false)
}

// Close closes every listener handed to the relay and every connection, and fails the
// transactions still open.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.done)
	lns := r.listeners
	conns := make([]*conn, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	for _, l := range lns {
		l.ln.Close()
	}
	for _, c := range conns {
		c.close(errRelayClosed)
	}
	return nil
}

var errRelayClosed = errors.New("relay closed")

func (r *Relay) track(c *conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

// forget removes every table entry that points at c; its relay URIs die with it (RFC 4976
// §6.3: "If the client's connection is closed and then reopened, the URI MUST be invalidated").
func (r *Relay) forget(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, c)
	for _, id := range c.bindingIDs {
		if b := r.bindings[id]; b != nil && b.owner == c {
			delete(r.bindings, id)
		}
	}
	for _, k := range c.peerKeys {
		if r.peers[k] == c {
			delete(r.peers, k)
		}
	}
	if c.dialKey != "" {
		if d := r.outbound[c.dialKey]; d != nil && d.c == c {
			delete(r.outbound, c.dialKey)
		}
	}
}

// lookup returns the live binding of a relay URI, or nil.
func (r *Relay) lookup(u msrp.URI) *binding {
	if u.SessionID == "" {
		return nil
	}
	r.mu.RLock()
	b := r.bindings[u.SessionID]
	r.mu.RUnlock()
	if b == nil || b.uri.Secure != u.Secure || time.Now().After(b.expires) {
		return nil
	}
	return b
}

// Bindings reports how many relay URIs are live (for metrics and tests).
func (r *Relay) Bindings() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.bindings)
}

// newBinding creates a relay URI for the client on c (RFC 4976 §6.3).
func (r *Relay) newBinding(c *conn, expires time.Duration) (*binding, error) {
	var raw [16]byte // 128 random bits
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	id := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:]))
	host, port, secure, err := r.advertise(c)
	if err != nil {
		return nil, err
	}
	b := &binding{
		uri:     msrp.URI{Secure: secure, Host: host, Port: port, SessionID: id, Transport: "tcp"},
		owner:   c,
		expires: time.Now().Add(expires),
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errRelayClosed
	}
	if c.isClosed() {
		return nil, net.ErrClosed // forget has run: a URI added now would outlive c
	}
	// Drop this connection's expired URIs before counting.
	live := c.bindingIDs[:0]
	for _, old := range c.bindingIDs {
		if ob := r.bindings[old]; ob != nil && time.Now().Before(ob.expires) {
			live = append(live, old)
		} else {
			delete(r.bindings, old)
		}
	}
	c.bindingIDs = live
	if len(c.bindingIDs) >= maxBindingsPerConn {
		return nil, errTooManyBindings
	}
	r.bindings[id] = b
	c.bindingIDs = append(c.bindingIDs, id)
	return b, nil
}

var errTooManyBindings = errors.New("too many relay URIs on one connection")

// advertise picks the host, port and scheme of a Use-Path URI for a client on c: the
// listener it connected to, or for WebSocket clients the TLS listener if there is one, else
// the TCP listener (RFC 7977 §8.1: the Use-Path names the relay's TCP/TLS side).
func (r *Relay) advertise(c *conn) (host string, port int, secure bool, err error) {
	r.mu.RLock()
	var pick *listenerAddr
	for i := range r.listeners {
		l := &r.listeners[i]
		if c.listener != nil {
			if l.ln == c.listener {
				pick = l
				break
			}
			continue
		}
		if pick == nil || (l.secure && !pick.secure) {
			pick = l
		}
	}
	r.mu.RUnlock()
	if pick == nil {
		return "", 0, false, errors.New("relay has no TCP or TLS listener to name in Use-Path")
	}
	tcp, ok := pick.ln.Addr().(*net.TCPAddr)
	if !ok {
		return "", 0, false, errors.New("relay listener is not TCP")
	}
	host = r.cfg.PublicHost
	if host == "" {
		host = tcp.IP.String()
		if tcp.IP.IsUnspecified() {
			if c.local != nil {
				host = c.local.IP.String()
			} else {
				host = "127.0.0.1"
			}
		}
	}
	return host, tcp.Port, pick.secure, nil
}

// ListenerURIs returns the relay URI of each listener (without a session), for logs.
func (r *Relay) ListenerURIs() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for _, l := range r.listeners {
		scheme := "msrp"
		if l.secure {
			scheme = "msrps"
		}
		out = append(out, scheme+"://"+l.ln.Addr().String()+";tcp")
	}
	return out
}

// uriKey identifies a peer's URI for connection reuse (RFC 4975 §6.1 rules, simplified to
// exact text of the parts that matter).
func uriKey(u msrp.URI) string {
	return strconv.FormatBool(u.Secure) + "|" + strings.ToLower(u.HostPort()) + "|" + u.SessionID
}

func authorityKey(u msrp.URI) string {
	return strconv.FormatBool(u.Secure) + "|" + strings.ToLower(u.HostPort())
}

// maxPeersPerConn bounds how many peer URIs one connection can be remembered for.
const maxPeersPerConn = 64

// notePeer remembers that requests from peer URI u arrive on c, so requests to u go back over
// the same connection (RFC 4975 §5.4; RFC 4976 §6.4.3 "the best connection"): a peer that
// connected to the relay and does not listen is reached this way.
//
// From-Path is only a claim, so it is believed only when it cannot steal anyone's traffic:
// the URI's host must be the IP address the connection comes from, its scheme must match the
// connection's security (RFC 4975 §6: msrps only over TLS), a live entry is never replaced,
// and one connection holds at most maxPeersPerConn entries.
//
// A peer names itself in every request; the reader remembers the last URI that was settled
// here (recorded for c, or never eligible on c) and skips it next time, so that a stream of
// requests from one peer costs no lookups.
func (r *Relay) notePeer(c *conn, u msrp.URI) {
	if u == c.notedPeer {
		return
	}
	if r.notePeerOnce(c, u) {
		c.notedPeer = u
	}
}

// notePeerOnce records c as the connection to u if it may be, and reports whether the
// question is settled for c (recorded, or never eligible on c).
func (r *Relay) notePeerOnce(c *conn, u msrp.URI) bool {
	if c.nc == nil || u.Secure != c.secure {
		return true
	}
	remote, ok := c.nc.RemoteAddr().(*net.TCPAddr)
	if ip := net.ParseIP(u.Host); !ok || ip == nil || !ip.Equal(remote.IP) {
		return true
	}
	k := uriKey(u)
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.peers[k]; old == c {
		return true
	} else if old != nil && !old.isClosed() || c.isClosed() || len(c.peerKeys) >= maxPeersPerConn {
		return false
	}
	if d := r.outbound[authorityKey(u)]; d != nil && d.c != nil && !d.c.isClosed() {
		return false // the relay has its own connection there
	}
	r.peers[k] = c
	c.peerKeys = append(c.peerKeys, k)
	return true
}

// connFor returns a connection to the next hop u: one the relay dialled to its authority,
// else one the peer opened to us (see notePeer), else a new one (RFC 4976 §6.4.2).
//
// When it has to dial or wait for a dial (bounded by Config.DialTimeout), beforeWait runs
// first: the caller's reader flushes what it gathered (see batch).
func (r *Relay) connFor(u msrp.URI, beforeWait func()) (*conn, error) {
	if u.IsWebSocket() {
		return nil, errors.New("no WebSocket connection for " + u.String())
	}
	r.mu.RLock()
	var c *conn
	if d := r.outbound[authorityKey(u)]; d != nil && d.c != nil && !d.c.isClosed() {
		c = d.c
	} else {
		c = r.peers[uriKey(u)]
	}
	r.mu.RUnlock()
	if c != nil && !c.isClosed() {
		return c, nil
	}
	if u.Port == 0 {
		return nil, errors.New("next hop " + u.String() + " has no port") // RFC 4976 §8
	}
	beforeWait()
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.DialTimeout)
	defer cancel()
	key := authorityKey(u)
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, errRelayClosed
		}
		d := r.outbound[key]
		if d == nil {
			d = &dial{ready: make(chan struct{})}
			r.outbound[key] = d
			r.mu.Unlock()
			c, err := r.dialPeer(ctx, u, key, d)
			close(d.ready)
			return c, err
		}
		r.mu.Unlock()
		select {
		case <-d.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if d.err != nil {
			return nil, d.err
		}
		if !d.c.isClosed() {
			return d.c, nil
		}
		r.mu.Lock()
		if r.outbound[key] == d {
			delete(r.outbound, key)
		}
		r.mu.Unlock()
	}
}

// dialPeer connects to u for the pending dial d, and publishes the outcome in d under r.mu
// before the connection's reader starts, so that forget always finds it.
func (r *Relay) dialPeer(ctx context.Context, u msrp.URI, key string, d *dial) (*conn, error) {
	fail := func(err error) (*conn, error) {
		r.mu.Lock()
		d.err = err
		if r.outbound[key] == d {
			delete(r.outbound, key)
		}
		r.mu.Unlock()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.DialTimeout)
	defer cancel()
	addr := u.HostPort()
	var nc net.Conn
	var err error
	if u.Secure {
		cfg := r.cfg.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Host
		}
		td := tls.Dialer{Config: cfg}
		nc, err = td.DialContext(ctx, "tcp", addr)
	} else {
		var nd net.Dialer
		nc, err = nd.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fail(err)
	}
	c := newStreamConn(r, nc, u.Secure, true)
	c.dialKey = key
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		nc.Close()
		return fail(errRelayClosed)
	}
	r.conns[c] = struct{}{}
	d.c = c
	r.mu.Unlock()
	r.log.Debug("msrp relay: dialled next hop", "peer", addr)
	go c.serveStream()
	return c, nil
}
