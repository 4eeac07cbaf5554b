package relay

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/simplegw/simplegw/bridge/msrp"
	"github.com/simplegw/simplegw/bridge/netbuf"
)

// conn is one transport connection of the relay: a WebSocket client, or a TCP/TLS connection
// that a client or peer opened to us or that we dialled.
//
// Concurrency: the reading goroutine owns cur and authFailures. Any goroutine may write; wmu
// serialises writes and flushes (coder/websocket serialises its own frames as well). pmu
// guards pending. bindingIDs, peerKeys and dialKey are guarded by Relay.mu. batch has its
// own lock (see batch).
type conn struct {
	r  *Relay
	ws *websocket.Conn // set for WebSocket clients
	nc net.Conn        // set for TCP and TLS
	// out is the connection writes go through (under ws for a WebSocket accepted with
	// ServeWebSocketConn, nc itself for TCP and TLS): it gathers what the relay writes while
	// it has input at hand. Nil for a WebSocket served without one: every write goes out
	// at once.
	out *netbuf.Conn
	// batch is what this connection's reader wrote and has not flushed yet.
	batch batch
	// For a WebSocket: done runs once its serving ends; stop unregisters the context
	// callback that closes it.
	done     func()
	stop     func() bool
	secure   bool
	outbound bool         // we dialled it
	listener net.Listener // the listener it arrived on, if any
	local    *net.TCPAddr

	bindingIDs []string
	peerKeys   []string
	dialKey    string

	wmu sync.Mutex
	// Writes in progress and when the last one started or ended, for the relay's sweeper,
	// which closes a connection whose peer has read nothing for WriteTimeout.
	writes   atomic.Int32
	progress atomic.Int64 // unix nanoseconds

	pmu     sync.Mutex
	pending map[string]*txn // transactions we forwarded on this connection, by our tid

	closeOnce sync.Once
	closed    chan struct{}
	wsClosed  chan struct{} // closed when ws.Close has returned

	cur          *forward
	fwd          forward  // what cur points to for a forwarded request
	notedPeer    msrp.URI // the last From-Path URI notePeer settled for c
	authFailures int
	ok           bool // a request succeeded: AUTH answered 200, or a request forwarded
}

func newStreamConn(r *Relay, nc net.Conn, secure, outbound bool) *conn {
	c := &conn{r: r, nc: nc, secure: secure, outbound: outbound, closed: make(chan struct{})}
	c.local, _ = nc.LocalAddr().(*net.TCPAddr)
	c.out = netbuf.New(nc, netbuf.Options{BeforeRead: c.batch.flush})
	return c
}

// newWSConn serves ws; out, if not nil, is the connection under it.
func newWSConn(r *Relay, ws *websocket.Conn, out *netbuf.Conn) *conn {
	c := &conn{r: r, ws: ws, secure: true, closed: make(chan struct{}), out: out, wsClosed: make(chan struct{})}
	if out != nil {
		out.SetBeforeRead(c.batch.flush)
	}
	return c
}

// batch is the set of connections that one reader has written to without flushing: the
// reader gathers the chunks and responses it writes while input is at hand, and flushes
// them all before it waits for more (netbuf's BeforeRead), before anything else that may keep
// it waiting (a dial, a large chunk that goes out at once), and when it stops. A burst of
// chunks read in one system call so leaves in one system call per destination.
//
// Concurrency: the reader adds; the reader flushes, or the goroutine closing its WebSocket
// (whose close handshake reads). mu is held across a flush; it is never taken while a conn's
// wmu is held.
type batch struct {
	mu     sync.Mutex
	conns  []*conn
	writes int // messages gathered since the last flush
}

// maxBatchWrites bounds how long a reader that keeps finding input holds what it gathered:
// after this many messages it flushes, waiting or not.
const maxBatchWrites = 64

func (b *batch) add(c *conn) {
	b.mu.Lock()
	b.writes++
	full := b.writes >= maxBatchWrites
	found := false
	for _, x := range b.conns {
		if x == c {
			found = true
			break
		}
	}
	if !found {
		b.conns = append(b.conns, c)
	}
	b.mu.Unlock()
	if full {
		b.flush()
	}
}

func (b *batch) flush() { b.flushExcept(nil) }

// flushExcept flushes every connection in b but x (nil: all); x stays in b.
func (b *batch) flushExcept(x *conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes = 0
	keep := false
	for i, c := range b.conns {
		if c == x {
			keep = true
		} else {
			c.flush()
		}
		b.conns[i] = nil
	}
	b.conns = b.conns[:0]
	if keep {
		b.conns = append(b.conns, x)
	}
}

// flush writes what c has gathered.
func (c *conn) flush() {
	if c.out == nil {
		return
	}
	c.writes.Add(1)
	defer c.writes.Add(-1)
	c.wmu.Lock()
	c.progress.Store(time.Now().UnixNano())
	err := c.out.Flush()
	c.progress.Store(time.Now().UnixNano())
	c.wmu.Unlock()
	if err != nil {
		c.close(err)
	}
}

func (c *conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *conn) String() string {
	switch {
	case c.ws != nil:
		return "ws"
	case c.nc != nil:
		return c.nc.RemoteAddr().String()
	}
	return "?"
}

// close tears c down once: the socket, the relay's table entries, and the transactions that
// were waiting on it (each ends in a REPORT or an error response to its sender).
func (c *conn) close(reason error) {
	c.closeOnce.Do(func() {
		close(c.closed)
		if c.ws != nil {
			code, text := websocket.StatusNormalClosure, ""
			switch {
			case errors.Is(reason, errRelayClosed):
				code, text = websocket.StatusGoingAway, "relay shutting down"
			case reason != nil && !errors.Is(reason, io.EOF):
				code, text = websocket.StatusPolicyViolation, reason.Error()
				var ce *closeError
				if errors.As(reason, &ce) {
					code = ce.code
				}
			}
			if len(text) > 120 {
				text = text[:120]
			}
			if c.out != nil {
				// The close handshake reads on another goroutine from here.
				c.out.HandOverReads()
			}
			go func() { c.ws.Close(code, text); close(c.wsClosed) }()
		} else {
			c.nc.Close()
		}
		c.r.forget(c)
		c.pmu.Lock()
		pending := c.pending
		c.pending = nil
		c.pmu.Unlock()
		// Failing a transaction writes to its sender, which may be slow: never from here,
		// where the sweeper or another connection's reader may be the caller.
		if len(pending) > 0 {
			go func() {
				for _, t := range pending {
					t.fail(408, "connection to the next hop was lost")
				}
			}()
		}
		c.r.log.Debug("msrp relay: connection closed", "conn", c.String(), "reason", reason)
	})
}

// closeError asks for a particular WebSocket close code.
type closeError struct {
	code websocket.StatusCode
	msg  string
}

func (e *closeError) Error() string { return e.msg }

// serveStream reads a TCP or TLS connection until it ends.
func (c *conn) serveStream() {
	var err error
	defer func() { c.batch.flush(); c.abortForward(); c.close(err) }()
	if tc, ok := c.nc.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(context.Background(), c.r.cfg.Probation)
		err = tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return
		}
	}
	probation := !c.outbound
	if probation {
		// RFC 4976 §6.1: a connection on which no request succeeds within 30 seconds is
		// closed (failed AUTHs, stray responses and refused requests do not count).
		c.nc.SetReadDeadline(time.Now().Add(c.r.cfg.Probation))
	}
	rd := msrp.NewReader(c.out, c.r.cfg.PieceSize, 0)
	for {
		var p msrp.Part
		p, err = rd.Next()
		if err != nil {
			var pe *msrp.ParseError
			if errors.As(err, &pe) {
				c.rejectMalformed(pe)
				err = nil
				continue
			}
			return
		}
		if err = c.guard(p); err != nil {
			return
		}
		if probation && c.ok {
			probation = false
			c.nc.SetReadDeadline(time.Time{})
		}
		if c.isClosed() {
			return
		}
	}
}

// guard handles one part so that a bug met while handling it costs this connection, never
// the gateway: a panic is logged with its stack and returned as the error that closes c.
func (c *conn) guard(p msrp.Part) (err error) {
	defer func() {
		if v := recover(); v != nil {
			c.r.log.Error("msrp relay: panic while handling a message; connection dropped",
				"conn", c.String(), "panic", v, "stack", string(debug.Stack()))
			c.cur = nil
			err = &closeError{code: websocket.StatusInternalError, msg: "internal error"}
		}
	}()
	c.handlePart(p)
	return nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 4<<20 {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// serveWebSocket reads MSRP messages from a WebSocket client until it closes, then calls
// c.done. Each WebSocket message is exactly one MSRP chunk (RFC 7977 §5.1), text or binary
// alike (§4.2).
//
// Between bursts the reader does not wait inside coder/websocket, where its stack is deep:
// when everything read has been handled and the socket looked drained (netbuf's Idle), it
// hands over to a fresh goroutine that waits for the next byte (resume) and ends. A parked
// goroutine's stack is sized by what it uses, so an idle connection keeps a 2 KiB stack
// rather than the 8 KiB that handling a message grew.
//
// readable says the socket has bytes waiting (resume saw them): read before looking at Idle.
func (c *conn) serveWebSocket(readable bool) {
	var err error
	hop := false
	defer func() {
		if hop {
			return
		}
		c.batch.flush()
		c.abortForward()
		c.close(err)
		<-c.wsClosed // the close handshake ends before done (whose owner may CloseNow)
		if c.stop != nil {
			c.stop()
		}
		c.done()
	}()
	for {
		if c.out == nil {
			// No netbuf under ws to say when a read would wait: flush per message.
			c.batch.flush()
		} else if !readable && c.out.Idle() {
			// Flush here, not in the waiter: writing would grow its stack.
			c.batch.flush()
			hop = true
			go c.resume()
			return
		}
		readable = false
		var rd io.Reader
		_, rd, err = c.ws.Reader(context.Background())
		if err != nil {
			return
		}
		if err = c.handleWSMessage(rd); err != nil {
			return
		}
		if c.isClosed() {
			return
		}
	}
}

// resume waits for the WebSocket client's next bytes and serves on. A wait that fails (the socket closed) leaves the error to
// the read that follows.
func (c *conn) resume() {
	c.out.WaitReadable()
	c.serveWebSocket(true)
}

var readPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// handleWSMessage reads one WebSocket message from rd and handles the MSRP chunk it holds.
// A malformed but framed message is answered and reading goes on; anything that is not MSRP
// at all ends the connection with 1002 and a reason.
func (c *conn) handleWSMessage(rd io.Reader) error {
	buf := readPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 4<<20 {
			buf.Reset()
			readPool.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(rd); err != nil {
		return err
	}
	m, err := msrp.Parse(buf.Bytes())
	if err != nil {
		var pe *msrp.ParseError
		if errors.As(err, &pe) {
			c.rejectMalformed(pe)
			return nil
		}
		return &closeError{code: websocket.StatusProtocolError, msg: "not an MSRP message: " + err.Error()}
	}
	return c.guard(msrp.Part{Message: m, Body: m.Body, Final: true})
}

// write sends one message on c at once: m's head, body, and the end-line with flag. It is
// safe for concurrent use; the message goes out whole (one WebSocket message, or one
// uninterrupted run of bytes on a stream).
func (c *conn) write(m *msrp.Message, body []byte, flag byte) error {
	return c.send(m, body, flag, nil)
}

// send is write for a connection's reader, which passes its batch: the message is gathered
// on c (netbuf) and c joins the batch, to be flushed before the reader waits. With a nil
// batch the message goes out at once.
func (c *conn) send(m *msrp.Message, body []byte, flag byte, b *batch) error {
	if c.isClosed() {
		return net.ErrClosed
	}
	withBody := m.HasBody || len(body) > 0
	bp := getBuf()
	defer putBuf(bp)
	buf := m.AppendHead(*bp)
	headLen := len(buf)
	if c.ws != nil {
		// One WebSocket message holds the whole chunk (RFC 7977 §5.1).
		buf = append(buf, body...)
	}
	buf = msrp.AppendEndLine(buf, m.TransactionID, flag, withBody)
	*bp = buf
	if b != nil && c.out != nil {
		size := len(buf)
		if c.ws == nil {
			size += len(body) // a stream writes the body in place, after the head
		}
		large := len(body) >= netbuf.GatherLimit/2
		if large || c.out.Buffered()+size > netbuf.GatherLimit {
			// This write goes out at once and may block: what the reader gathered for the
			// others goes first, so that nothing waits behind it. A large chunk is not
			// gathered at all (netbuf writes it without a copy).
			b.flushExcept(c)
			if large {
				b = nil
			}
		}
	}
	// Writers queue on wmu; progress moves only when one of them holds it, so writers waiting
	// behind a stuck one cannot hide it from the sweeper.
	c.writes.Add(1)
	defer c.writes.Add(-1)
	c.wmu.Lock()
	c.progress.Store(time.Now().UnixNano())
	var err error
	switch {
	case c.ws != nil && c.out == nil:
		err = c.ws.Write(context.Background(), websocket.MessageBinary, buf)
	case c.ws != nil:
		// coder/websocket writes a frame in pieces; held, they become one system call.
		c.out.Hold()
		err = c.ws.Write(context.Background(), websocket.MessageBinary, buf)
		c.out.Release()
		if b == nil || err != nil || c.isClosed() {
			// A frame coder/websocket wrote for itself (close, pong) while we held
			// may be among the gathered bytes: it must not wait for a batch.
			if ferr := c.out.Flush(); err == nil {
				err = ferr
			}
		}
	case b != nil:
		c.out.Hold()
		err = c.out.WriteBuffers(buf[:headLen], body, buf[headLen:])
		c.out.Release()
	default:
		err = c.out.WriteBuffers(buf[:headLen], body, buf[headLen:])
	}
	c.progress.Store(time.Now().UnixNano())
	c.wmu.Unlock()
	if err != nil {
		c.close(err)
		return err
	}
	if b != nil && c.out != nil {
		b.add(c)
	}
	return nil
}

// addPending records a transaction forwarded on c, awaiting the next hop's response.
func (c *conn) addPending(tid string, t *txn) bool {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.isClosed() {
		return false
	}
	if c.pending == nil {
		c.pending = make(map[string]*txn)
	}
	c.pending[tid] = t
	return true
}

func (c *conn) takePending(tid string) *txn {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	t := c.pending[tid]
	if t != nil {
		delete(c.pending, tid)
	}
	return t
}

// arm starts a transaction's timeout once its last byte has been written (RFC 4976 §6.4.1);
// the relay's sweeper fails it when the deadline passes.
func (c *conn) arm(tid string, t *txn) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.pending[tid] == t {
		t.deadline = time.Now().Add(c.r.cfg.TransactionTimeout)
	}
}

// sweep fails the transactions on c whose deadline passed, and closes c when a write to it
// has been stuck for longer than timeout.
func (c *conn) sweep(now time.Time, writeTimeout time.Duration) {
	if c.writes.Load() > 0 && now.Sub(time.Unix(0, c.progress.Load())) > writeTimeout {
		c.close(errWriteStuck)
		return
	}
	var expired []*txn
	c.pmu.Lock()
	for tid, t := range c.pending {
		if !t.deadline.IsZero() && now.After(t.deadline) {
			delete(c.pending, tid)
			expired = append(expired, t)
		}
	}
	c.pmu.Unlock()
	if len(expired) > 0 {
		// The sweeper must never wait on a write (it is what unsticks writers).
		go func() {
			for _, t := range expired {
				t.fail(408, "no response from the next hop")
			}
		}()
	}
}

var errWriteStuck = errors.New("peer read nothing within the write timeout")
