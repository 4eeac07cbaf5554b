// Package netbuf wraps a connection so that its owner pays for system calls and memory only
// while data flows.
//
// Writes: between Hold and Release, what is written is gathered in memory (a buffer borrowed
// from a pool) instead of going out at once; Flush sends everything gathered in one system
// call (writev when the connection is a *net.TCPConn) and returns the buffer. A relay that
// forwards many small chunks (RFC 4975 §5.1: each chunk is its own write on a stream; RFC
// 7977 §5.1: each chunk its own WebSocket message) gathers the chunks and responses it writes
// while it has input at hand and flushes before it waits for more, so a burst of N chunks
// costs a handful of system calls instead of 2N. Writes outside Hold/Release go out at once,
// after anything gathered before them, so a writer that knows nothing of gathering (a
// WebSocket library answering a ping or closing) is never delayed.
//
// Reads (with Options.BorrowReads): a small read is served from a buffer borrowed from a pool
// while data is flowing and returned when it runs dry, so a reader with a tiny buffer of its
// own neither makes a system call per frame nor keeps kilobytes per idle connection. Before
// each read system call, Options.BeforeRead runs: the owner flushes there what it gathered.
package netbuf

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
)

// GatherLimit is the most a Conn gathers before it writes: a write that would take the
// gathered bytes past it goes out at once, together with what was gathered.
const GatherLimit = 64 << 10

// readSize is the size of a borrowed read buffer; reads at least this large go straight to
// the connection.
const readSize = 16 << 10

var (
	outPool = sync.Pool{New: func() any { b := make([]byte, 0, GatherLimit); return &b }}
	inPool  = sync.Pool{New: func() any { b := make([]byte, readSize); return &b }}
)

// Options configures a Conn.
type Options struct {
	// Buffered holds bytes already read from the connection (by an HTTP server before it
	// handed the connection over); Read returns them first.
	Buffered []byte
	// BorrowReads serves reads smaller than 16 KiB from a pooled buffer while data flows.
	BorrowReads bool
	// BeforeRead, if set, runs on the reading goroutine before each read system call.
	BeforeRead func()
}

// Conn is a net.Conn that gathers writes and borrows read buffers.
//
// Concurrency: Read is called by one goroutine at a time (the connection's reader; the
// fields below "read side" are its own). Write, WriteBuffers, Hold, Release, Flush and
// Buffered may be called from any goroutine: mu serialises them together with the system
// calls they make, so bytes leave in the order they were written. Close does not take mu: it
// unblocks a write stuck on a peer that reads nothing.
type Conn struct {
	net.Conn
	borrow     bool
	beforeRead func()
	raw        *rawReader // of a *net.TCPConn: reads try first and flush only on EAGAIN

	// gate orders Idle's look at the read side (and at upper) with HandOverReads.
	gate     sync.Mutex
	upper    *bufio.Reader // the reader's own buffer above c (set by ResponseWriter.Hijack)
	handover bool          // another goroutine reads from now on: Idle reports false

	// read side
	pre   []byte
	in    *[]byte // borrowed while data flows; nil when idle
	r, w  int
	rerr  error // error of the read that filled in, reported once in is drained
	more  bool  // the last read system call filled its whole buffer: more is probably waiting
	reads int   // read system calls made (for tests)

	mu   sync.Mutex
	iov  [4][]byte   // room for send's vector (under mu)
	vec  net.Buffers // the vector WriteTo consumes (under mu)
	held int
	out  *[]byte // gathered bytes; nil when there are none
	err  error   // the first write error; every later write fails with it
}

// New wraps nc.
func New(nc net.Conn, o Options) *Conn {
	c := &Conn{Conn: nc, borrow: o.BorrowReads, beforeRead: o.BeforeRead}
	if tc, ok := nc.(*net.TCPConn); ok && rawReads {
		if rc, err := tc.SyscallConn(); err == nil {
			c.raw = newRawReader(rc)
		}
	}
	if len(o.Buffered) > 0 {
		c.pre = append([]byte(nil), o.Buffered...)
	}
	return c
}

// SetBeforeRead sets the hook run before each read system call. Call it before the first Read.
func (c *Conn) SetBeforeRead(f func()) { c.beforeRead = f }

// Read reads from the connection: first the Options.Buffered bytes, then what a borrowed
// buffer holds, then from the socket.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		if len(c.pre) == 0 {
			c.pre = nil
		}
		return n, nil
	}
	if c.in != nil {
		if c.r < c.w {
			return c.take(p), nil
		}
		if c.rerr != nil {
			err := c.rerr
			c.rerr = nil
			c.release()
			return 0, err
		}
	}
	if !c.borrow || !c.more || len(p) >= readSize {
		// Idle (the last read drained the socket), or the caller's buffer is as large as
		// ours: read straight into p, holding no buffer while the peer is silent.
		c.release()
		n, err := c.readSocket(p)
		c.more = n == len(p)
		return n, err
	}
	if c.in == nil {
		c.in = inPool.Get().(*[]byte)
	}
	n, err := c.readSocket(*c.in)
	c.r, c.w = 0, n
	c.more = n == len(*c.in)
	if n == 0 {
		c.release()
		return 0, err
	}
	c.rerr = err
	return c.take(p), nil
}

// readSocket makes the read system call. BeforeRead runs only when the read would wait: on
// a *net.TCPConn the read is tried first and the hook runs on EAGAIN, before the reader
// parks (so a reader with input at hand keeps gathering); on other connections (TLS) it
// runs before every read.
func (c *Conn) readSocket(p []byte) (int, error) {
	c.reads++
	if c.raw == nil || c.beforeRead == nil {
		if c.beforeRead != nil {
			c.beforeRead()
		}
		return c.Conn.Read(p)
	}
	n, err := c.raw.Read(p, c.beforeRead)
	switch err.(type) {
	case nil:
		if n == 0 {
			err = io.EOF
		}
	case *net.OpError:
		// From the runtime's poller (closed, past the deadline): already says where.
	default:
		// The read system call's own error (ECONNRESET...), dressed as net.Conn.Read does.
		err = &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(),
			Err: os.NewSyscallError("read", err)}
	}
	return n, err
}

// take copies buffered bytes into p and gives the buffer back once it is drained and the
// socket probably is too.
func (c *Conn) take(p []byte) int {
	n := copy(p, (*c.in)[c.r:c.w])
	c.r += n
	if c.r == c.w && !c.more && c.rerr == nil {
		c.release()
	}
	return n
}

func (c *Conn) release() {
	if c.in != nil {
		inPool.Put(c.in)
		c.in = nil
	}
	c.r, c.w = 0, 0
}

// Hold starts gathering: until the matching Release, writes are kept in memory (up to
// GatherLimit) for the next Flush. Holds nest.
func (c *Conn) Hold() {
	c.mu.Lock()
	c.held++
	c.mu.Unlock()
}

// Release ends one Hold. It does not flush: what was gathered waits for Flush, or goes out
// ahead of the next write made outside a Hold.
func (c *Conn) Release() {
	c.mu.Lock()
	c.held--
	c.mu.Unlock()
}

// Write writes p: gathered while held and under GatherLimit, otherwise at once after the
// gathered bytes.
func (c *Conn) Write(p []byte) (int, error) {
	if err := c.WriteBuffers(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteBuffers writes bufs as one run of bytes, like Write on their concatenation; bufs that
// go out at once are written without being copied (writev on a *net.TCPConn).
func (c *Conn) WriteBuffers(bufs ...[]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	gathered := 0
	if c.out != nil {
		gathered = len(*c.out)
	}
	if c.held > 0 && gathered+n <= GatherLimit {
		if c.out == nil {
			c.out = outPool.Get().(*[]byte)
		}
		for _, b := range bufs {
			*c.out = append(*c.out, b...)
		}
		return nil
	}
	return c.send(bufs)
}

// Flush writes what was gathered, in one system call.
func (c *Conn) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return c.send(nil)
}

// Buffered reports how many gathered bytes wait for Flush.
func (c *Conn) Buffered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.out == nil {
		return 0
	}
	return len(*c.out)
}

// send writes the gathered bytes and then bufs. c.mu is held.
func (c *Conn) send(bufs [][]byte) error {
	v := c.iov[:0]
	if c.out != nil && len(*c.out) > 0 {
		v = append(v, *c.out)
	}
	for _, b := range bufs {
		if len(b) > 0 {
			v = append(v, b)
		}
	}
	var err error
	switch len(v) {
	case 0:
	case 1:
		_, err = c.Conn.Write(v[0])
	default:
		// A field, not a local: WriteTo takes a pointer, which would move a local to the heap.
		c.vec = v
		_, err = c.vec.WriteTo(c.Conn)
		c.vec = nil
	}
	clear(v)
	if c.out != nil {
		*c.out = (*c.out)[:0]
		outPool.Put(c.out)
		c.out = nil
	}
	if err != nil {
		c.err = err
	}
	return err
}

// Idle reports whether the reader has consumed everything read so far — nothing in the
// Options.Buffered bytes, the borrowed buffer, or the bufio.Reader that Hijack put above c —
// and the last read system call drained the socket: its next read would probably wait. It
// is false where WaitReadable cannot be used (not a *net.TCPConn on a unix system) and after
// HandOverReads. Call it from the reading goroutine.
func (c *Conn) Idle() bool {
	c.gate.Lock()
	defer c.gate.Unlock()
	if c.raw == nil || c.handover || c.more || len(c.pre) > 0 || c.rerr != nil {
		return false
	}
	if c.in != nil && c.r < c.w {
		return false
	}
	return c.upper == nil || c.upper.Buffered() == 0
}

// WaitReadable waits until the socket has bytes to read (or an error: closed, past the read
// deadline), without reading them; BeforeRead does not run (flush before: writing would grow
// the waiting goroutine's stack). A server waits here, on a goroutine with a small stack, rather than deep in a protocol
// library's read, so that an idle connection costs little (the runtime sizes a parked
// goroutine's stack by what it uses). Call it only when Idle reported true, from the
// reading goroutine.
func (c *Conn) WaitReadable() error {
	if c.raw == nil {
		return errors.ErrUnsupported
	}
	if err := c.raw.Wait(); err != nil {
		return err
	}
	// Bytes are waiting: the next read takes them all into a borrowed buffer rather than
	// a few at a time into the small buffer of the reader above (unless reads were handed
	// over meanwhile: the read side is no longer ours).
	c.gate.Lock()
	if !c.handover {
		c.more = true
	}
	c.gate.Unlock()
	return nil
}

// HandOverReads tells c that a goroutine other than its reader will read from now on (a
// WebSocket close handshake): Idle reports false from then on, so the reader no longer looks
// at buffers the other goroutine uses.
func (c *Conn) HandOverReads() {
	c.gate.Lock()
	c.handover = true
	c.gate.Unlock()
}
