// Package gateway is simplegw's front door: it binds every listener, serves
// the embedded demo and browser library over HTTP(S), accepts the browsers'
// WebSockets on /sip (RFC 7118) and /msrp (RFC 7977), enforces the Origin
// allow-list and adds CORS headers (RFC 7977 §7), and runs the lifecycle
// with a graceful shutdown.
//
// The gateway wires; it does not speak SIP or MSRP. Every accepted
// WebSocket, TCP, TLS and UDP listener is handed to the SIP edge
// (bridge/sipedge) or the MSRP relay (bridge/relay); see wire.go.
package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/simplegw/simplegw/bridge/netbuf"

	"github.com/simplegw/simplegw/static"
)

// Read limits set on every accepted WebSocket before it is handed to its
// service, which may change them. coder/websocket's default (32 KiB) is too
// small for SIP NOTIFY bodies of large rooms and for MSRP chunks.
const (
	// SIPReadLimit bounds one SIP message received on /sip.
	SIPReadLimit = 256 << 10
	// MSRPReadLimit bounds one MSRP chunk received on /msrp (RFC 7977 §5.1:
	// one chunk per WebSocket message).
	MSRPReadLimit = 1 << 20
)

// Subprotocols negotiated on the WebSocket endpoints.
const (
	SIPSubprotocol  = "sip"  // RFC 7118 §4.1
	MSRPSubprotocol = "msrp" // RFC 7977 §4.1
)

// wsService serves one accepted WebSocket. ServeWebSocket returns when the
// connection is closed (by either side) or ctx is done; the gateway closes
// the connection with 1001 "going away" on shutdown before cancelling ctx.
type wsService interface {
	ServeWebSocket(ctx context.Context, c *websocket.Conn)
}

// connService is a wsService that also takes the connection under the WebSocket, to gather
// its writes (package netbuf); the gateway then accepts the WebSocket on a netbuf.Conn.
// ServeWebSocketConn returns at once and calls done when the connection has ended.
type connService interface {
	ServeWebSocketConn(ctx context.Context, c *websocket.Conn, nc *netbuf.Conn, done func())
}

// relayService is what the gateway needs from the MSRP relay
// (bridge/relay). ServeTCP and ServeTLS return once their listener is
// closed; Close ends every session and connection.
type relayService interface {
	wsService
	ServeTCP(ln net.Listener) error
	ServeTLS(ln net.Listener) error // ln is a TLS listener
	Close() error
}

// edgeService is what the gateway needs from the SIP edge
// (bridge/sipedge); Serve* and Close behave as for relayService.
type edgeService interface {
	relayService
	ServeUDP(pc net.PacketConn) error
}

// services are the protocol engines behind the listeners.
type services struct {
	msrp relayService
	sip  edgeService
}

// Addrs are the bound addresses of the listeners; MSRPS and SIPS are empty
// when disabled. SIP is bound on UDP and TCP with the same address.
type Addrs struct {
	HTTP, MSRP, MSRPS, SIP, SIPS string
}

// Gateway is one running simplegw. Create it with New, then Start, then
// Shutdown. Its methods are safe for concurrent use.
type Gateway struct {
	cfg       Config
	log       *slog.Logger
	svc       services
	serverTLS *tls.Config // nil when no certificate is configured
	origins   *originPolicy
	http      *http.Server

	// baseCtx is passed to the services' ServeWebSocket; cancelled by
	// Shutdown once the WebSockets were asked to close.
	baseCtx context.Context
	cancel  context.CancelFunc

	wsWG    sync.WaitGroup // one per WebSocket handler in flight
	serveWG sync.WaitGroup // one per Serve goroutine

	shutdownOnce sync.Once
	shutdownDone chan struct{}
	shutdownErr  error

	mu    sync.Mutex // guards the fields below
	state state
	// conns holds the accepted WebSockets being served; true marks one served by a
	// connService, which closes it itself when wsCtx ends (its close handshake must run
	// where its reader expects it), false one the gateway closes.
	conns map[*websocket.Conn]bool
	// wsCtx is what connServices serve under; cancelled when Shutdown closes WebSockets.
	wsCtx     context.Context
	wsCancel  context.CancelFunc
	closers   []func() error // non-HTTP listeners, closed on shutdown
	addrs     Addrs
	readyLine string
}

type state int

const (
	stateNew state = iota
	stateStarted
	stateClosing
)

// New validates cfg, loads the certificate, users and secrets, and builds
// the SIP edge and the MSRP relay. Invalid settings yield a *ConfigError
// naming the flag. Nothing is bound until Start.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	serverTLS, err := loadTLS(&cfg)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	svc, err := wire(&cfg, log)
	if err != nil {
		return nil, err
	}
	return newGateway(cfg, log, svc, serverTLS), nil
}

// newGateway builds a Gateway around already-built services; cfg must be
// valid. Tests use it with fake services.
func newGateway(cfg Config, log *slog.Logger, svc services, serverTLS *tls.Config) *Gateway {
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{
		cfg:          cfg,
		log:          log,
		svc:          svc,
		serverTLS:    serverTLS,
		origins:      newOriginPolicy(&cfg),
		baseCtx:      ctx,
		cancel:       cancel,
		shutdownDone: make(chan struct{}),
		conns:        make(map[*websocket.Conn]bool),
	}
	g.wsCtx, g.wsCancel = context.WithCancel(ctx)
	if cfg.openMode() {
		log.Warn("open demo credentials: any name and password are accepted (loopback only); set -users or -auth-secret for real accounts")
	}
	for _, p := range g.origins.patterns {
		if p == "*" || p == "*://*" {
			log.Warn("-origins allows every Origin: any web page can use this gateway", "pattern", p)
		}
	}
	for flag, addr := range map[string]string{"msrp": cfg.MSRPAddr, "msrps": cfg.MSRPSAddr} {
		if h, _, err := net.SplitHostPort(addr); err == nil && cfg.PublicHost == "" && isWildcard(h) {
			log.Warn("-"+flag+" is bound to every interface: set -public-host so that Use-Path names a host peers can reach", "addr", addr)
		}
	}

	mux := http.NewServeMux()
	mux.Handle("/sip", g.webSocketHandler(SIPSubprotocol, svc.sip, SIPReadLimit))
	mux.Handle("/msrp", g.webSocketHandler(MSRPSubprotocol, svc.msrp, MSRPReadLimit))
	mux.Handle("/healthz", g.origins.corsHandler(http.HandlerFunc(g.healthz)))
	mux.Handle("/", g.origins.corsHandler(http.FileServerFS(static.Site())))
	g.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	return g
}

func isWildcard(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// Start binds every listener (port 0 picks a free port; SIP gets the same
// port on UDP and TCP) and starts serving. If a listener cannot be bound,
// the ones already bound are closed and the error names the flag.
func (g *Gateway) Start() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != stateNew {
		return errors.New("gateway: Start called twice or after Shutdown")
	}

	var closers []func() error
	fail := func(flag string, err error) error {
		for _, c := range closers {
			_ = c()
		}
		return fmt.Errorf("-%s: %w", flag, err)
	}
	listen := func(addr string, tlsConf *tls.Config) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		closers = append(closers, ln.Close)
		if tlsConf != nil {
			ln = tls.NewListener(ln, tlsConf)
		}
		return ln, nil
	}

	var httpTLS *tls.Config
	if g.serverTLS != nil {
		httpTLS = g.serverTLS.Clone()
		// ALPN offers HTTP/1.1 only: coder/websocket hijacks the
		// connection, which HTTP/2 does not allow.
		httpTLS.NextProtos = []string{"http/1.1"}
	}
	httpLn, err := listen(g.cfg.HTTPAddr, httpTLS)
	if err != nil {
		return fail("http", err)
	}
	msrpLn, err := listen(g.cfg.MSRPAddr, nil)
	if err != nil {
		return fail("msrp", err)
	}
	sipLn, sipPC, err := listenSameTCPAndUDP(g.cfg.SIPAddr)
	if err != nil {
		return fail("sip", err)
	}
	closers = append(closers, sipLn.Close, sipPC.Close)
	var msrpsLn, sipsLn net.Listener
	if g.cfg.MSRPSAddr != "" {
		if msrpsLn, err = listen(g.cfg.MSRPSAddr, g.serverTLS); err != nil {
			return fail("msrps", err)
		}
	}
	if g.cfg.SIPSAddr != "" {
		if sipsLn, err = listen(g.cfg.SIPSAddr, g.serverTLS); err != nil {
			return fail("sips", err)
		}
	}

	g.addrs = Addrs{HTTP: httpLn.Addr().String(), MSRP: msrpLn.Addr().String(), SIP: sipLn.Addr().String()}
	line := fmt.Sprintf("simplegw ready http=%s msrp=%s sip=%s", g.addrs.HTTP, g.addrs.MSRP, g.addrs.SIP)
	if msrpsLn != nil {
		g.addrs.MSRPS = msrpsLn.Addr().String()
		line += " msrps=" + g.addrs.MSRPS
	}
	if sipsLn != nil {
		g.addrs.SIPS = sipsLn.Addr().String()
		line += " sips=" + g.addrs.SIPS
	}
	if g.cfg.PprofAddr != "" {
		pprofLn, err := listen(g.cfg.PprofAddr, nil)
		if err != nil {
			return fail("pprof", err)
		}
		g.log.Info("profiler listening", "url", "http://"+pprofLn.Addr().String()+"/debug/pprof/")
		go http.Serve(pprofLn, pprofMux())
	}
	g.readyLine = line
	// http.Server.Shutdown closes the HTTP listener (closers[0]); Shutdown
	// closes the others.
	g.closers = closers[1:]
	g.state = stateStarted

	scheme := "http"
	if g.serverTLS != nil {
		scheme = "https"
	}
	g.serve(scheme, g.addrs.HTTP, func() error { return g.http.Serve(httpLn) })
	g.serve("msrp", g.addrs.MSRP, func() error { return g.svc.msrp.ServeTCP(msrpLn) })
	g.serve("sip+tcp", g.addrs.SIP, func() error { return g.svc.sip.ServeTCP(sipLn) })
	g.serve("sip+udp", g.addrs.SIP, func() error { return g.svc.sip.ServeUDP(sipPC) })
	if msrpsLn != nil {
		g.serve("msrps", g.addrs.MSRPS, func() error { return g.svc.msrp.ServeTLS(msrpsLn) })
	}
	if sipsLn != nil {
		g.serve("sips", g.addrs.SIPS, func() error { return g.svc.sip.ServeTLS(sipsLn) })
	}
	return nil
}

// serve runs fn on its own goroutine; an error while the gateway is not
// shutting down is logged (a listener failed under us).
func (g *Gateway) serve(name, addr string, fn func() error) {
	g.log.Info("listening", "listener", name, "addr", addr)
	g.serveWG.Add(1)
	go func() {
		defer g.serveWG.Done()
		err := fn()
		g.mu.Lock()
		closing := g.state == stateClosing
		g.mu.Unlock()
		if err != nil && !closing && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("listener stopped", "listener", name, "addr", addr, "err", err)
		}
	}()
}

// listenSameTCPAndUDP binds addr on TCP and UDP with the same port, as SIP
// expects (RFC 3261 §18: a server listening on a port for one transport
// listens on it for the other). With port 0 it retries until a free TCP
// port is also free on UDP.
func listenSameTCPAndUDP(addr string) (net.Listener, net.PacketConn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	tries := 1
	if port == "0" {
		tries = 20
	}
	for i := 0; ; i++ {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, err
		}
		_, p, _ := net.SplitHostPort(ln.Addr().String())
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, p))
		if err == nil {
			return ln, pc, nil
		}
		ln.Close()
		if i+1 >= tries {
			return nil, nil, err
		}
	}
}

// ReadyLine returns the line simplegw prints once every listener is bound:
// "simplegw ready http=HOST:PORT msrp=HOST:PORT sip=HOST:PORT", then
// " msrps=HOST:PORT" and " sips=HOST:PORT" when enabled, with the bound
// ports. It is empty before Start succeeds.
func (g *Gateway) ReadyLine() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.readyLine
}

// Addrs returns the bound listener addresses; zero before Start succeeds.
func (g *Gateway) Addrs() Addrs {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.addrs
}

// healthz answers 200 with the listener addresses as JSON:
// {"status":"ok","listeners":{"http":"127.0.0.1:8080",...}}.
func (g *Gateway) healthz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a := g.Addrs()
	ls := map[string]string{"http": a.HTTP, "msrp": a.MSRP, "sip": a.SIP}
	if a.MSRPS != "" {
		ls["msrps"] = a.MSRPS
	}
	if a.SIPS != "" {
		ls["sips"] = a.SIPS
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		Status    string            `json:"status"`
		Listeners map[string]string `json:"listeners"`
	}{"ok", ls})
}

// webSocketHandler accepts a WebSocket speaking proto and hands it to svc.
// The handshake fails with 403 when the Origin is not allowed (enforced by
// coder/websocket with the gateway's one pattern list); a client that did
// not offer proto is closed with 1002 and a reason, as RFC 7118 §4.1 and
// RFC 7977 §4.1 make the subprotocol mandatory.
func (g *Gateway) webSocketHandler(proto string, svc wsService, readLimit int64) http.Handler {
	opts := &websocket.AcceptOptions{
		Subprotocols:   []string{proto},
		OriginPatterns: g.origins.patterns,
	}
	noProto := fmt.Sprintf("the %q WebSocket subprotocol is required", proto)
	cs, _ := svc.(connService)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.beginWebSocket() {
			http.Error(w, "simplegw is shutting down", http.StatusServiceUnavailable)
			return
		}
		handedOver := false
		defer func() {
			if !handedOver {
				g.wsWG.Done()
			}
		}()

		g.origins.corsHeaderOnUpgrade(w, r)
		var nw *netbuf.ResponseWriter
		if cs != nil {
			nw = netbuf.NewResponseWriter(w)
			w = nw
		}
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			g.log.Info("websocket handshake refused", "path", r.URL.Path, "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr, "err", err)
			return
		}
		if c.Subprotocol() != proto {
			g.log.Info("websocket without subprotocol closed", "path", r.URL.Path, "remote", r.RemoteAddr,
				"offered", strings.Join(r.Header.Values("Sec-WebSocket-Protocol"), ","))
			_ = c.Close(websocket.StatusProtocolError, noProto)
			return
		}
		c.SetReadLimit(readLimit)
		if !g.trackConn(c, nw != nil) {
			_ = c.Close(websocket.StatusGoingAway, "going away")
			return
		}
		// The connection is served on goroutines of the service's own and this handler
		// returns: the HTTP server's goroutine, with the stack it grew and the request it
		// holds, goes away, and an idle WebSocket costs one small goroutine.
		handedOver = true
		ended := func() {
			// The service closes the connection; make sure it is gone.
			_ = c.CloseNow()
			g.untrackConn(c)
			g.wsWG.Done()
		}
		if nw != nil {
			cs.ServeWebSocketConn(g.wsCtx, c, nw.Conn(), ended)
			return
		}
		go func() {
			defer ended()
			svc.ServeWebSocket(g.baseCtx, c)
		}()
	})
}

// beginWebSocket registers a handler in flight, or reports false when the
// gateway is shutting down.
func (g *Gateway) beginWebSocket() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == stateClosing {
		return false
	}
	g.wsWG.Add(1)
	return true
}

// trackConn records an accepted connection so Shutdown can close it, or
// reports false when Shutdown has already taken its snapshot.
func (g *Gateway) trackConn(c *websocket.Conn, selfClosing bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == stateClosing {
		return false
	}
	g.conns[c] = selfClosing
	return true
}

func (g *Gateway) untrackConn(c *websocket.Conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// Shutdown stops the gateway gracefully: it stops accepting on every
// listener, lets plain HTTP requests finish, closes every WebSocket with
// 1001 "going away" and waits for their handlers, then closes the SIP edge
// and the MSRP relay (which end their TCP/TLS connections) and waits for
// the serving goroutines. When ctx ends first, the remaining WebSockets are
// dropped without a handshake and ctx's error is returned. Calling it again
// waits for the first call to finish.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.shutdownOnce.Do(func() {
		g.shutdownErr = g.shutdown(ctx)
		close(g.shutdownDone)
	})
	select {
	case <-g.shutdownDone:
		return g.shutdownErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Gateway) shutdown(ctx context.Context) error {
	g.mu.Lock()
	started := g.state == stateStarted
	g.state = stateClosing
	closers := g.closers
	conns := make([]*websocket.Conn, 0, len(g.conns))
	var ours []*websocket.Conn
	for c, selfClosing := range g.conns {
		conns = append(conns, c)
		if !selfClosing {
			ours = append(ours, c)
		}
	}
	g.mu.Unlock()
	g.log.Info("shutting down", "websockets", len(conns))

	var errs []error
	// 1. Stop accepting everywhere.
	for _, c := range closers {
		_ = c()
	}
	if started {
		if err := g.http.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}

	// 2. Close every WebSocket with 1001 and wait for the handlers.
	g.wsCancel()
	for _, c := range ours {
		go func() { _ = c.Close(websocket.StatusGoingAway, "going away") }()
	}
	if err := waitCtx(ctx, &g.wsWG); err != nil {
		for _, c := range conns {
			go func() { _ = c.CloseNow() }()
		}
		errs = append(errs, err)
	}

	// 3. Stop the services; they end their sessions and connections.
	g.cancel()
	if err := g.svc.msrp.Close(); err != nil {
		errs = append(errs, fmt.Errorf("msrp relay: %w", err))
	}
	if err := g.svc.sip.Close(); err != nil {
		errs = append(errs, fmt.Errorf("sip edge: %w", err))
	}

	// 4. Wait for the serving goroutines.
	if err := waitCtx(ctx, &g.serveWG); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(dedupe(errs)...)
}

// waitCtx waits for wg or ctx, whichever comes first.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dedupe drops repeated context errors so Shutdown reports one.
func dedupe(errs []error) []error {
	var out []error
	seenCtx := false
	for _, e := range errs {
		if errors.Is(e, context.Canceled) || errors.Is(e, context.DeadlineExceeded) {
			if seenCtx {
				continue
			}
			seenCtx = true
		}
		out = append(out, e)
	}
	return out
}
