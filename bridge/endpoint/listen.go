package endpoint

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/simplegw/simplegw/bridge/msrp"
)

// Listener accepts TCP or TLS connections from peers and relays (the passive side of RFC
// 4975 §5.4) and serves each as a [Conn] with the Listener's Options. Its sessions
// ([Listener.NewSession]) are shared by all its connections: a session is bound to the
// first connection that sends a request to it and refused (506) on any other while that
// connection is open (RFC 4975 §5.4); when the connection closes the URI is free again.
// With Options.SharedSessions any connection may use it.
type Listener struct {
	ln       net.Listener
	opts     Options
	secure   bool
	device   msrp.URI
	sessions *table

	mu      sync.Mutex
	conns   map[*Conn]struct{}
	closed  bool
	closing chan struct{} // closed by Close
	done    chan struct{} // closed when serve returns
}

// Listen listens on addr ("127.0.0.1:2855"; port 0 picks a free one). With
// opts.TLSConfig it speaks TLS (msrps).
func Listen(addr string, opts Options) (*Listener, error) {
	opts.defaults()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	t := newTable()
	t.shared = opts.SharedSessions
	l := &Listener{ln: ln, opts: opts, secure: opts.TLSConfig != nil, sessions: t,
		conns: make(map[*Conn]struct{}), closing: make(chan struct{}), done: make(chan struct{})}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if opts.Host != "" {
		host = opts.Host
	} else if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	l.device, err = msrp.ParseURI(schemeFor(l.secure) + net.JoinHostPort(host, port) + ";tcp")
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("endpoint: host %q: %w", host, err)
	}
	if l.secure {
		l.ln = tls.NewListener(ln, opts.TLSConfig)
	}
	go l.serve()
	return l, nil
}

// Addr returns the listening address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// URI returns the listener's device URI, msrp[s]://host:port;tcp.
func (l *Listener) URI() msrp.URI { return l.device }

// NewSession returns a session whose Local URI is msrp[s]://host:port/<random>;tcp on this
// listener; toPath may be nil until the peer's path is known.
func (l *Listener) NewSession(toPath []msrp.URI) *Session {
	u, _ := msrp.ParseURI(schemeFor(l.secure) + l.device.HostPort() + "/" + msrp.NewIdent() + ";tcp")
	l.sessions.add(u, nil)
	return &Session{Local: u, ToPath: toPath}
}

// Conn returns the open connection the session URI local is bound to, or nil.
func (l *Listener) Conn(local msrp.URI) *Conn { return l.sessions.conn(local) }

// Close stops accepting and closes every connection.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.closing)
	conns := make([]*Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	err := l.ln.Close()
	<-l.done
	for _, c := range conns {
		c.Close()
	}
	return err
}

func (l *Listener) serve() {
	defer close(l.done)
	var backoff time.Duration
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait a little, up to a second, and
			// try again rather than stop serving.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
			case <-l.closing:
				return
			}
			continue
		}
		backoff = 0
		kind := "tcp"
		if l.secure {
			kind = "tls"
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			nc.Close()
			return
		}
		c := newStreamConn(nc, kind, l.opts, l.sessions, false, l.device)
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		go func() {
			<-c.done
			l.mu.Lock()
			delete(l.conns, c)
			l.mu.Unlock()
		}()
	}
}

// table maps session URIs to the connection each is bound to (RFC 4975 §5.4, §7.3). URIs
// are compared by the rules of RFC 4975 §6.1. It is safe for concurrent use.
type table struct {
	mu     sync.Mutex
	m      map[string][]*binding // by session-id
	shared bool                  // Options.SharedSessions: never 506
}

type binding struct {
	uri  msrp.URI
	conn *Conn // nil: not bound yet
}

func newTable() *table { return &table{m: make(map[string][]*binding)} }

func (t *table) find(u msrp.URI) *binding {
	for _, b := range t.m[u.SessionID] {
		if b.uri.Equal(u) {
			return b
		}
	}
	return nil
}

// add registers u, bound to c (nil: unbound). It fails if u is bound to another open
// connection.
func (t *table) add(u msrp.URI, c *Conn) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if b := t.find(u); b != nil {
		if b.conn != nil && b.conn != c && c != nil {
			return fmt.Errorf("endpoint: %s is bound to another connection", u)
		}
		if c != nil {
			b.conn = c
		}
		return nil
	}
	t.m[u.SessionID] = append(t.m[u.SessionID], &binding{uri: u, conn: c})
	return nil
}

// lookup checks that u may be used on c, binding it to c if it was free: 0, or 481 for an
// unknown session, or 506 for one bound to another connection.
func (t *table) lookup(u msrp.URI, c *Conn) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.find(u)
	switch {
	case b == nil:
		return 481
	case b.conn == nil:
		b.conn = c
		return 0
	case b.conn == c:
		return 0
	case t.shared:
		b.conn = c // the latest connection, for Listener.Conn
		return 0
	}
	return 506
}

func (t *table) conn(u msrp.URI) *Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	if b := t.find(u); b != nil {
		return b.conn
	}
	return nil
}

// release unbinds (or, with remove, forgets) every session bound to c.
func (t *table) release(c *Conn, remove bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, bs := range t.m {
		out := bs[:0]
		for _, b := range bs {
			if b.conn == c {
				if remove {
					continue
				}
				b.conn = nil
			}
			out = append(out, b)
		}
		if len(out) == 0 {
			delete(t.m, id)
		} else {
			t.m[id] = out
		}
	}
}
