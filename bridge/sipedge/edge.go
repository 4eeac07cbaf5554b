package sipedge

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/simplegw/simplegw/bridge/auth"
)

// Config configures an Edge.
type Config struct {
	// Domain is the SIP domain of the embedded registrar and the host of the
	// edge's WebSocket-facing Record-Route URIs. Default "localhost".
	Domain string
	// Upstream is the SIP URI of the core every request from a browser is
	// forwarded to, e.g. "sip:127.0.0.1:5070;transport=tcp"; the transport
	// parameter selects udp (default), tcp or tls, and a sips: URI means
	// tls. Empty selects the embedded registrar/proxy.
	Upstream string
	// Digest authenticates REGISTER (and PUBLISH from an unregistered
	// source) in embedded mode, with Domain as realm. Nil disables
	// authentication and is meant for tests only.
	Digest *auth.Digest
	// TLSConfig is the client configuration for TLS next hops (sips: or
	// transport=tls URIs, a TLS upstream): its RootCAs apply and ServerName
	// defaults to the next hop's host. Nil means the system roots. The
	// server side of ServeTLS is the listener's own configuration.
	TLSConfig *tls.Config
	// Logger receives the edge's logs. Nil discards them.
	Logger *slog.Logger

	// hopFilter is set by tests only; New copies it to Edge.hopFilter before the edge
	// serves anything.
	hopFilter func(*nextHop) error
}

// Edge is the SIP edge proxy with its embedded registrar and presence server.
//
// Concurrency: an Edge is safe for concurrent use. Its Serve methods and
// ServeWebSocket each run a connection's read loop on the caller's or their
// own goroutines; shared tables (flows, transactions, registrations,
// presence) are guarded by the mutexes next to them.
type Edge struct {
	domain     string
	digest     *auth.Digest
	tlsConfig  *tls.Config
	log        *slog.Logger
	parser     *sip.Parser
	upstream   *nextHop // nil in embedded mode
	upMu       sync.Mutex
	upAddr     netip.AddrPort // upstream's resolved address, cached
	upAt       time.Time      // when upAddr was resolved
	instanceID string         // marks this edge's Route/Record-Route/Path URIs

	reg  *registrar
	pres *presence

	// hopFilter, when set (by tests, before use), may refuse a next hop
	// before anything is resolved or sent.
	hopFilter func(*nextHop) error

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc

	mu        sync.Mutex
	closed    bool
	flows     map[string]*flow      // flow token → WebSocket/TCP/TLS flow
	pool      map[string]*flow      // "TCP|ip:port" → dialled connection
	dialing   map[string]*dialCall  // in-progress dials, by pool key
	udp       []*udpSocket          // sockets we read from; udp[0] sends
	listeners []net.Listener        // closed by Close
	local     map[string][]net.Addr // "UDP"/"TCP"/"TLS" → listener addresses

	txMu     sync.Mutex
	serverTx map[string]*sip.ServerTx // serverTxKey → transaction
	clientTx map[string]*clientTxn    // sip.ClientTxKeyMake → transaction
	proxies  map[string]*proxyCtx     // INVITE serverTxKey → its proxy context
}

// New returns an Edge for cfg. It does not listen: the gateway binds the
// sockets and hands them to ServeUDP, ServeTCP, ServeTLS and ServeWebSocket.
func New(cfg Config) (*Edge, error) {
	domain := strings.ToLower(strings.TrimSpace(cfg.Domain))
	if domain == "" {
		domain = "localhost"
	}
	if strings.ContainsAny(domain, " \t\r\n;:@<>\"/?") {
		return nil, fmt.Errorf("sipedge: invalid domain %q", cfg.Domain)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var id [4]byte
	rand.Read(id[:])
	e := &Edge{
		domain:     domain,
		digest:     cfg.Digest,
		tlsConfig:  cfg.TLSConfig,
		log:        log,
		parser:     sip.NewParser(),
		instanceID: hex.EncodeToString(id[:]),
		flows:      make(map[string]*flow),
		pool:       make(map[string]*flow),
		dialing:    make(map[string]*dialCall),
		local:      make(map[string][]net.Addr),
		serverTx:   make(map[string]*sip.ServerTx),
		clientTx:   make(map[string]*clientTxn),
		proxies:    make(map[string]*proxyCtx),
		hopFilter:  cfg.hopFilter,
	}
	e.parser.MaxMessageLength = maxMessageSize
	if cfg.Upstream != "" {
		hop, err := parseNextHop(cfg.Upstream)
		if err != nil {
			return nil, fmt.Errorf("sipedge: upstream %q: %w", cfg.Upstream, err)
		}
		e.upstream = hop
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.reg = newRegistrar(e)
	e.pres = newPresence(e)
	return e, nil
}

// ServeUDP reads SIP datagrams from pc until pc fails or the Edge is closed.
// The first socket served is also the one requests to UDP next hops are sent
// from. It returns nil after Close, otherwise the read error.
func (e *Edge) ServeUDP(pc net.PacketConn) error {
	s := &udpSocket{pc: pc}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		pc.Close()
		return nil
	}
	e.udp = append(e.udp, s)
	e.local["UDP"] = append(e.local["UDP"], pc.LocalAddr())
	e.mu.Unlock()
	return e.readUDP(s)
}

// ServeTCP accepts SIP-over-TCP connections on ln (RFC 3261 §18) until ln
// fails or the Edge is closed. It returns nil after Close.
func (e *Edge) ServeTCP(ln net.Listener) error {
	return e.serveStream(ln, "TCP")
}

// ServeTLS accepts SIP-over-TLS connections (RFC 3261 §26.2) on ln, which
// must already be a TLS listener (tls.NewListener with the server
// certificate), as for the MSRP relay. It returns nil after Close.
func (e *Edge) ServeTLS(ln net.Listener) error {
	return e.serveStream(ln, "TLS")
}

func (e *Edge) serveStream(ln net.Listener, transport string) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		ln.Close()
		return nil
	}
	e.listeners = append(e.listeners, ln)
	e.local[transport] = append(e.local[transport], ln.Addr())
	e.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			if e.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		f := e.newStreamFlow(transport, c, false)
		if f == nil {
			c.Close()
			return nil
		}
		go e.readStream(f, c)
	}
}

// Close stops the Edge: it closes the listeners and sockets handed to the
// Serve methods, every WebSocket, TCP and TLS connection (so ServeWebSocket
// calls return), and terminates pending transactions, registrations and
// subscriptions. It is idempotent.
func (e *Edge) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.cancel()
	flows := make([]*flow, 0, len(e.flows)+len(e.pool))
	for _, f := range e.flows {
		flows = append(flows, f)
	}
	for _, f := range e.pool {
		flows = append(flows, f)
	}
	lns := e.listeners
	socks := e.udp
	e.mu.Unlock()

	var errs []error
	for _, ln := range lns {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for _, s := range socks {
		if err := s.pc.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for _, f := range flows {
		f.close("edge closing")
	}
	e.reg.close()
	e.pres.close()

	e.txMu.Lock()
	stxs := make([]*sip.ServerTx, 0, len(e.serverTx))
	for _, tx := range e.serverTx {
		stxs = append(stxs, tx)
	}
	ctxs := make([]*clientTxn, 0, len(e.clientTx))
	for _, c := range e.clientTx {
		ctxs = append(ctxs, c)
	}
	pcs := make([]*proxyCtx, 0, len(e.proxies))
	for _, pc := range e.proxies {
		pcs = append(pcs, pc)
	}
	e.txMu.Unlock()
	for _, pc := range pcs {
		pc.stopTimers()
	}
	for _, c := range ctxs {
		c.tx.Terminate()
	}
	for _, tx := range stxs {
		tx.Terminate()
	}
	return errors.Join(errs...)
}

func (e *Edge) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// flowByToken returns the live flow named by token, or nil.
func (e *Edge) flowByToken(token string) *flow {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.flows[token]
}

// newToken returns a flow token: 128 random bits in hex.
func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// listenAddr returns the first listener address for transport ("UDP",
// "TCP", "TLS"), or nil.
func (e *Edge) listenAddr(transport string) net.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a := e.local[transport]; len(a) > 0 {
		return a[0]
	}
	return nil
}
