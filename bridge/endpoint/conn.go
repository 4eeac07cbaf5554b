package endpoint

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/simplegw/simplegw/bridge/msrp"
)

// Defaults for [Options] and [SendOptions].
const (
	// DefaultResponseTimeout is how long a sender waits for the response to a transaction
	// after its last byte (RFC 4975 §7.1.1: 30 seconds).
	DefaultResponseTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds one write to the transport; a peer that accepts nothing for
	// that long is taken as gone and the connection is closed.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultMaxInMemory is the largest message kept in memory when OpenSink gives no sink.
	DefaultMaxInMemory = 1 << 20
	// DefaultMaxWSMessage is the largest WebSocket message (one chunk, RFC 7977 §5.1) read.
	DefaultMaxWSMessage = 4 << 20
	// DefaultMaxPending bounds the messages being reassembled at once on one connection.
	DefaultMaxPending = 64

	// closeFlushTimeout bounds how long Close waits to write what is queued.
	closeFlushTimeout = 2 * time.Second
	// maxCtrlBytes bounds the responses and REPORTs queued for writing. Peers wait for our
	// responses before they send more (their window), so only a peer that never reads
	// fills it; the connection is then closed.
	maxCtrlBytes = 1 << 20
	// interruptAt is the chunk size above which a chunk must be interruptible (RFC 4975
	// §7.1.1: "senders MUST NOT send chunks with a body larger than 2048 octets unless they
	// are prepared to interrupt them").
	interruptAt = 2048
	// writePiece is how much of a chunk is written between checks for waiting traffic.
	writePiece = 16 << 10
)

// Options configure a [Conn] made by [Dial] or accepted by a [Listener]. The zero value is
// usable: messages are then received and dropped.
//
// The callbacks run on the connection's reading goroutine (see the package documentation)
// and must not wait for responses on the same Conn.
type Options struct {
	// TLSConfig is, for Dial, the client configuration of tls:// and wss:// targets (nil:
	// system roots, with ServerName taken from the target); for Listen, the server
	// configuration with its certificates (nil: plain TCP).
	TLSConfig *tls.Config
	// HTTPHeader is added to the WebSocket handshake request (Origin, Cookie, …).
	HTTPHeader http.Header
	// Host is, for Listen, the host written in session URIs; by default the listener's IP
	// address, or 127.0.0.1 when it listens on all addresses.
	Host string
	// SharedSessions (Listen only) lets a session be used on several connections at once:
	// no 506. RFC 4975 §5.4 forbids this for real sessions; a test tool that prints one
	// path for a series of senders needs it, since a sender's next connection may arrive
	// before the listener has seen the previous one close.
	SharedSessions bool

	// OpenSink is called when the first chunk of a new incoming message arrives (whichever
	// chunk that is: they may come out of order). first is that chunk's header (Body nil):
	// Content-Type, Byte-Range (its total may be known), Content-Disposition in Fields. It
	// returns where the body goes; bytes are written at their offset in the message as they
	// arrive, and a later chunk overwrites an earlier overlapping one (RFC 4975 §7.3.1). A
	// nil sink keeps the body in memory, up to MaxInMemory. An error refuses the message:
	// with its [Code] if it carries one (415, say), else 413.
	OpenSink func(first *msrp.Message) (io.WriterAt, error)
	// OnMessage is called once per incoming message: when it is complete, or with Err set
	// when it failed (aborted by the sender, the sink failed, the connection ended). The
	// application closes its sink there.
	OnMessage func(*Incoming)
	// OnReport is called for a REPORT that matches no message being sent by [Conn.Send]
	// (one that arrives after Send returned, say). REPORTs are never answered.
	OnReport func(c *Conn, report *msrp.Message)
	// OnRequest is called for a request other than SEND and REPORT addressed to one of our
	// sessions (NICKNAME of RFC 7701, …); it returns the response code. Nil answers 501
	// (RFC 4975 §10.9).
	OnRequest func(c *Conn, req *msrp.Message) int

	// MaxInMemory bounds a message kept in memory (default DefaultMaxInMemory).
	MaxInMemory int64
	// MaxMessageSize bounds any incoming message, sink or not; 0 means no bound.
	MaxMessageSize int64
	// MaxPending bounds the messages reassembled at once per connection (default
	// DefaultMaxPending); a new message beyond it is refused with 413.
	MaxPending int
	// PieceSize is the largest body piece read from TCP/TLS at once (default
	// msrp.DefaultPieceSize); MaxHeaderBytes bounds a header section (default
	// msrp.DefaultMaxHeaderBytes).
	PieceSize, MaxHeaderBytes int
	// MaxWSMessage bounds one WebSocket message (default DefaultMaxWSMessage).
	MaxWSMessage int64
	// WriteTimeout bounds one write (default DefaultWriteTimeout).
	WriteTimeout time.Duration
}

func (o *Options) defaults() {
	if o.MaxInMemory <= 0 {
		o.MaxInMemory = DefaultMaxInMemory
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MaxWSMessage <= 0 {
		o.MaxWSMessage = DefaultMaxWSMessage
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
}

// Session is one MSRP session as seen from this endpoint: Local is our URI (the From-Path
// of what we send, the To-Path of what we accept) and ToPath the path toward the peer,
// leftmost URI first (RFC 4975 §7.1; through relays, the Use-Path followed by the peer's
// path, RFC 4976 §5.1).
type Session struct {
	Local  msrp.URI
	ToPath []msrp.URI
}

// Conn is one transport connection: TCP, TLS, or a WebSocket (RFC 7977).
//
// Send, Do, Auth, Keepalive, NewSession, Bind and Close are safe for concurrent use; Sends
// on one Conn share it fairly. Writes are serialised by a FIFO token (wtok); the chunk
// writer yields it between pieces when another writer waits (waiting > 0).
type Conn struct {
	opts     Options
	kind     string // "tcp", "tls", "ws", "wss"
	nc       net.Conn
	bw       *bufio.Writer // owned by the holder of wtok
	ws       *websocket.Conn
	device   msrp.URI // our URI without session, for answers to unparsable requests
	sessions *table
	ownTable bool // sessions belongs to this Conn (dialed), not to a Listener

	wtok    chan struct{} // write token, capacity 1; receivers are served in FIFO order
	waiting atomic.Int32  // goroutines waiting for wtok

	ctrlMu    sync.Mutex
	ctrlQ     [][]byte // responses and REPORTs to write, in order
	ctrlBytes int
	ctrlWake  chan struct{} // capacity 1

	mu      sync.Mutex
	txns    map[string]*txn       // outstanding requests by transaction id
	sending map[string]*outgoing  // messages being sent, by Message-ID
	err     error                 // why the connection ended
	inbox   map[string]*inMessage // reassembly; owned by the reading goroutine

	inCallback atomic.Bool // the reader is running an application callback

	done     chan struct{} // closed when the connection ends
	readDone chan struct{} // closed when the reading goroutine has finished
	once     sync.Once
}

// txn is an outstanding request: done is called exactly once, with the response or an
// error (ErrNoResponse, ErrClosed).
type txn struct {
	done  func(resp *msrp.Message, err error)
	timer *time.Timer
}

// Dial connects to target and starts reading. Targets:
//
//	tcp://host:port        MSRP over TCP
//	tls://host:port        MSRP over TLS
//	ws://host:port/path    MSRP over WebSocket (RFC 7977), subprotocol "msrp"
//	wss://host:port/path   the same over TLS
//	msrp://host:port;tcp   an MSRP URI: TCP for msrp, TLS for msrps (default port 2855)
//
// ctx bounds the connection set-up only.
func Dial(ctx context.Context, target string, opts Options) (*Conn, error) {
	opts.defaults()
	if strings.HasPrefix(strings.ToLower(target), "msrp") {
		u, err := msrp.ParseURI(target)
		if err != nil {
			return nil, err
		}
		if u.IsWebSocket() {
			return nil, fmt.Errorf("endpoint: %s uses the ws transport, which is never dialled (RFC 7977 §5.2.2); dial the WebSocket server's ws:// or wss:// URL", target)
		}
		hp := u.HostPort()
		if u.Port == 0 {
			hp = net.JoinHostPort(u.Host, "2855")
		}
		if u.Secure {
			target = "tls://" + hp
		} else {
			target = "tcp://" + hp
		}
	}
	pu, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("endpoint: bad target %q: %w", target, err)
	}
	switch pu.Scheme {
	case "tcp", "tls":
		if pu.Host == "" || pu.Port() == "" {
			return nil, fmt.Errorf("endpoint: target %q needs host:port", target)
		}
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", pu.Host)
		if err != nil {
			return nil, err
		}
		if pu.Scheme == "tls" {
			cfg := clientTLS(opts.TLSConfig, pu.Hostname())
			tc := tls.Client(nc, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				nc.Close()
				return nil, err
			}
			nc = tc
		}
		return newStreamConn(nc, pu.Scheme, opts, newTable(), true, deviceURI(pu.Scheme == "tls", nc.LocalAddr().String())), nil
	case "ws", "wss":
		dopts := &websocket.DialOptions{Subprotocols: []string{"msrp"}, HTTPHeader: opts.HTTPHeader}
		if pu.Scheme == "wss" {
			dopts.HTTPClient = &http.Client{Transport: &http.Transport{
				TLSClientConfig: clientTLS(opts.TLSConfig, pu.Hostname()),
				Proxy:           http.ProxyFromEnvironment,
			}}
		}
		ws, resp, err := websocket.Dial(ctx, target, dopts)
		if err != nil {
			return nil, err
		}
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if ws.Subprotocol() != "msrp" {
			ws.CloseNow()
			return nil, fmt.Errorf("endpoint: %s did not accept the msrp subprotocol (RFC 7977 §4.1)", target)
		}
		ws.SetReadLimit(opts.MaxWSMessage)
		c := newConn(opts, pu.Scheme, newTable(), true)
		c.ws = ws
		dev, _ := msrp.ParseURI(schemeFor(pu.Scheme == "wss") + msrp.NewIdent() + ".invalid;ws")
		c.device = dev
		c.start()
		return c, nil
	}
	return nil, fmt.Errorf("endpoint: target %q: scheme must be tcp, tls, ws, wss, msrp or msrps", target)
}

func clientTLS(cfg *tls.Config, host string) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		cfg.ServerName = host
	}
	return cfg
}

func schemeFor(secure bool) string {
	if secure {
		return "msrps://"
	}
	return "msrp://"
}

// deviceURI is msrp[s]://host:port;tcp for a socket address.
func deviceURI(secure bool, addr string) msrp.URI {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = "127.0.0.1", "2855"
	}
	u, err := msrp.ParseURI(schemeFor(secure) + net.JoinHostPort(host, port) + ";tcp")
	if err != nil {
		u, _ = msrp.ParseURI(schemeFor(secure) + "127.0.0.1:" + port + ";tcp")
	}
	return u
}

func newConn(opts Options, kind string, t *table, own bool) *Conn {
	c := &Conn{
		opts:     opts,
		kind:     kind,
		sessions: t,
		ownTable: own,
		wtok:     make(chan struct{}, 1),
		ctrlWake: make(chan struct{}, 1),
		txns:     make(map[string]*txn),
		sending:  make(map[string]*outgoing),
		inbox:    make(map[string]*inMessage),
		done:     make(chan struct{}),
		readDone: make(chan struct{}),
	}
	c.wtok <- struct{}{}
	return c
}

// newStreamConn serves an established TCP or TLS connection. own says whether the
// session table t belongs to this connection alone (dialed) or to a Listener.
func newStreamConn(nc net.Conn, kind string, opts Options, t *table, own bool, device msrp.URI) *Conn {
	opts.defaults()
	c := newConn(opts, kind, t, own)
	c.nc = nc
	c.bw = bufio.NewWriterSize(nc, 32<<10)
	c.device = device
	c.start()
	return c
}

func (c *Conn) start() {
	go c.readLoop()
	go c.ctrlLoop()
}

// NewSession returns a session with a fresh local URI (msrp[s]://local-address/id;tcp, or
// msrp[s]://random.invalid/id;ws over WebSocket, RFC 7977 §5.2.1) bound to c, so that
// requests addressed to it are accepted here.
func (c *Conn) NewSession(toPath []msrp.URI) *Session {
	id := msrp.NewIdent()
	var s string
	if c.ws != nil {
		s = schemeFor(c.kind == "wss") + c.device.Host + "/" + id + ";ws"
	} else {
		s = schemeFor(c.kind == "tls") + c.device.HostPort() + "/" + id + ";tcp"
	}
	u, _ := msrp.ParseURI(s)
	c.sessions.add(u, c)
	return &Session{Local: u, ToPath: toPath}
}

// Bind makes c accept requests addressed to local. It fails if local is bound to another
// open connection.
func (c *Conn) Bind(local msrp.URI) error {
	return c.sessions.add(local, c)
}

// Transport returns "tcp", "tls", "ws" or "wss".
func (c *Conn) Transport() string { return c.kind }

// Done is closed when the connection has ended; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns nil while the connection is open, then the reason it ended (wrapping
// ErrClosed after Close).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection. Responses and REPORTs already queued are written first
// (for up to closeFlushTimeout); outstanding sends fail with ErrClosed; messages being
// received are delivered with Err set. It then waits for the reading goroutine to finish,
// so that no callback runs after it returns — unless a callback is running at that
// moment, so that Close may be called from a callback.
func (c *Conn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeFlushTimeout)
	if c.lockWrite(ctx) == nil {
		if c.writeCtrl() == nil {
			c.shutdown(ErrClosed)
		}
		c.unlockWrite()
	}
	cancel()
	c.shutdown(ErrClosed)
	if !c.inCallback.Load() {
		<-c.readDone
	}
	return nil
}

// closeErr is the error operations return once the connection has ended.
func (c *Conn) closeErr() error {
	err := c.Err()
	if err == nil || errors.Is(err, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %v", ErrClosed, err)
}

// shutdown ends the connection once, with reason err.
func (c *Conn) shutdown(err error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = err
		txns := c.txns
		c.txns = map[string]*txn{}
		c.mu.Unlock()
		c.sessions.release(c, c.ownTable)
		close(c.done)
		if c.nc != nil {
			c.nc.Close()
		} else {
			// The close handshake waits for the peer (at most 5 s in coder/websocket), so it
			// runs apart; the reader ends when it completes.
			code, reason := websocket.StatusNormalClosure, ""
			if !errors.Is(err, ErrClosed) {
				code, reason = websocket.StatusProtocolError, truncate(err.Error(), 120)
			}
			go c.ws.Close(code, reason)
		}
		for _, t := range txns {
			if t.timer != nil {
				t.timer.Stop()
			}
			t.done(nil, ErrClosed)
		}
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// lockWrite takes the write token.
func (c *Conn) lockWrite(ctx context.Context) error {
	c.waiting.Add(1)
	defer c.waiting.Add(-1)
	select {
	case <-c.wtok:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.closeErr()
	}
}

func (c *Conn) unlockWrite() { c.wtok <- struct{}{} }

// writeRaw writes to a stream transport (holding the token); errors end the connection.
func (c *Conn) writeRaw(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	if _, err := c.bw.Write(b); err != nil {
		c.shutdown(fmt.Errorf("write: %w", err))
		return c.closeErr()
	}
	return nil
}

func (c *Conn) flush() error {
	c.nc.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	if err := c.bw.Flush(); err != nil {
		c.shutdown(fmt.Errorf("write: %w", err))
		return c.closeErr()
	}
	return nil
}

// writeMessage writes one whole encoded message (holding the token): one WebSocket
// message, or bytes on the stream (not flushed).
func (c *Conn) writeMessage(b []byte) error {
	if c.ws == nil {
		return c.writeRaw(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.WriteTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageBinary, b); err != nil {
		c.shutdown(fmt.Errorf("write: %w", err))
		return c.closeErr()
	}
	return nil
}

// writeNow writes one encoded message at once, from the caller's goroutine.
func (c *Conn) writeNow(ctx context.Context, b []byte) error {
	if err := c.lockWrite(ctx); err != nil {
		return err
	}
	defer c.unlockWrite()
	if err := c.writeMessage(b); err != nil {
		return err
	}
	if c.ws == nil {
		return c.flush()
	}
	return nil
}

// enqueue queues an encoded response or REPORT for the writing goroutine. It never
// blocks, so the reader never waits for the network.
func (c *Conn) enqueue(b []byte) {
	c.ctrlMu.Lock()
	if c.ctrlBytes+len(b) > maxCtrlBytes {
		c.ctrlMu.Unlock()
		c.shutdown(errors.New("peer does not read the responses it is sent"))
		return
	}
	c.ctrlQ = append(c.ctrlQ, b)
	c.ctrlBytes += len(b)
	c.ctrlMu.Unlock()
	select {
	case c.ctrlWake <- struct{}{}:
	default:
	}
}

// ctrlLoop writes queued responses and REPORTs.
func (c *Conn) ctrlLoop() {
	for {
		select {
		case <-c.ctrlWake:
		case <-c.done:
			return
		}
		if c.lockWrite(context.Background()) != nil {
			return
		}
		err := c.writeCtrl()
		c.unlockWrite()
		if err != nil {
			return
		}
	}
}

// writeCtrl writes every queued response and REPORT; the caller holds the write token.
func (c *Conn) writeCtrl() error {
	c.ctrlMu.Lock()
	q := c.ctrlQ
	c.ctrlQ, c.ctrlBytes = nil, 0
	c.ctrlMu.Unlock()
	if len(q) == 0 {
		return nil
	}
	for _, b := range q {
		if err := c.writeMessage(b); err != nil {
			return err
		}
	}
	if c.ws == nil {
		return c.flush()
	}
	return nil
}

// register records an outstanding transaction.
func (c *Conn) register(tid string, done func(*msrp.Message, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.closeErrLocked()
	}
	c.txns[tid] = &txn{done: done}
	return nil
}

func (c *Conn) closeErrLocked() error {
	if errors.Is(c.err, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %v", ErrClosed, c.err)
}

// arm starts the response timer of tid (RFC 4975 §7.1.1), from its last byte.
func (c *Conn) arm(tid string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.txns[tid]; t != nil && t.timer == nil {
		t.timer = time.AfterFunc(d, func() { c.finish(tid, nil, ErrNoResponse) })
	}
}

// finish completes tid once; it reports whether tid was outstanding.
func (c *Conn) finish(tid string, resp *msrp.Message, err error) bool {
	c.mu.Lock()
	t := c.txns[tid]
	delete(c.txns, tid)
	c.mu.Unlock()
	if t == nil {
		return false
	}
	if t.timer != nil {
		t.timer.Stop()
	}
	t.done(resp, err)
	return true
}

// forget drops outstanding transactions without completing them.
func (c *Conn) forget(tids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tid := range tids {
		if t := c.txns[tid]; t != nil {
			if t.timer != nil {
				t.timer.Stop()
			}
			delete(c.txns, tid)
		}
	}
}

// Do sends a request that is not a SEND (AUTH, NICKNAME of RFC 7701, …) and waits for its
// response. An empty TransactionID is filled in. With Failure-Report "no" it returns (nil,
// nil) once the request is written; with "partial", (nil, nil) when no error response
// came within DefaultResponseTimeout. A non-200 response is returned with a *StatusError;
// no response within DefaultResponseTimeout gives ErrNoResponse.
func (c *Conn) Do(ctx context.Context, req *msrp.Message) (*msrp.Message, error) {
	if req.Method == "" || req.Method == msrp.MethodSEND {
		return nil, errors.New("endpoint: Do sends requests other than SEND; use Send")
	}
	if len(req.ToPath) == 0 || len(req.FromPath) == 0 {
		return nil, errors.New("endpoint: request needs To-Path and From-Path")
	}
	if len(req.Body) > msrp.MaxNonSendBody {
		return nil, fmt.Errorf("endpoint: %s body larger than %d bytes (RFC 4975 §7.1)", req.Method, msrp.MaxNonSendBody)
	}
	if req.TransactionID == "" {
		req.TransactionID = msrp.NewTransactionID(req.Body)
	}
	if req.Method == msrp.MethodREPORT || req.FailureReport == msrp.ReportNo {
		return nil, c.writeNow(ctx, req.Bytes())
	}
	ch := make(chan result, 1)
	if err := c.register(req.TransactionID, func(m *msrp.Message, err error) { ch <- result{m, err} }); err != nil {
		return nil, err
	}
	if err := c.writeNow(ctx, req.Bytes()); err != nil {
		c.forget([]string{req.TransactionID})
		return nil, err
	}
	c.arm(req.TransactionID, DefaultResponseTimeout)
	select {
	case r := <-ch:
		if errors.Is(r.err, ErrNoResponse) && req.FailureReport == msrp.ReportPartial {
			return nil, nil // RFC 4975 §7.1.4: no 200 for "partial"
		}
		if r.err != nil {
			return nil, r.err
		}
		if r.msg.Code != 200 {
			return r.msg, statusFromResponse(r.msg)
		}
		return r.msg, nil
	case <-ctx.Done():
		c.forget([]string{req.TransactionID})
		return nil, ctx.Err()
	}
}

type result struct {
	msg *msrp.Message
	err error
}

// Keepalive sends a bodiless SEND on s (RFC 4975 §7.1; RFC 7977 §6) and waits for its
// 200. An active endpoint sends one right after connecting to bind the session to the
// connection (RFC 4975 §5.4).
func (c *Conn) Keepalive(ctx context.Context, s *Session) error {
	if s == nil || len(s.ToPath) == 0 {
		return errors.New("endpoint: session has no To-Path")
	}
	m := &msrp.Message{TransactionID: msrp.NewIdent(), Method: msrp.MethodSEND, ToPath: s.ToPath,
		FromPath: []msrp.URI{s.Local}, MessageID: msrp.NewIdent()}
	ch := make(chan result, 1)
	if err := c.register(m.TransactionID, func(r *msrp.Message, err error) { ch <- result{r, err} }); err != nil {
		return err
	}
	if err := c.writeNow(ctx, m.Bytes()); err != nil {
		c.forget([]string{m.TransactionID})
		return err
	}
	c.arm(m.TransactionID, DefaultResponseTimeout)
	select {
	case r := <-ch:
		if r.err != nil {
			return r.err
		}
		if r.msg.Code != 200 {
			return statusFromResponse(r.msg)
		}
		return nil
	case <-ctx.Done():
		c.forget([]string{m.TransactionID})
		return ctx.Err()
	}
}
