package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/simplegw/simplegw/bridge/msrp"
)

// counter counts what a receiving endpoint got: whole messages and body bytes. While a
// latency run has a recorder attached, each whole message's body head is handed to it.
type counter struct {
	n     atomic.Int64
	bytes atomic.Int64
	rec   atomic.Pointer[recorder]
}

func (c *counter) onSend(n int, last bool, head []byte) {
	c.bytes.Add(int64(n))
	if last {
		c.n.Add(1)
		if r := c.rec.Load(); r != nil {
			r.arrive(head)
		}
	}
}

// sink is a plain MSRP endpoint listening on TCP (the "TCP peer"): it answers 200 and counts.
type sink struct {
	counter
	ln  net.Listener
	uri msrp.URI
}

func newSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u, err := msrp.ParseURI("msrp://" + ln.Addr().String() + "/benchsink;tcp")
	if err != nil {
		return nil, err
	}
	s := &sink{ln: ln, uri: u}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go answer(newTCPWire(c), s.uri, s.onSend, nil)
		}
	}()
	return s, nil
}

func (s *sink) addr() string     { return s.ln.Addr().String() }
func (s *sink) path() []msrp.URI { return []msrp.URI{s.uri} }
func (s *sink) close()           { s.ln.Close() }

// relayClient is an endpoint that AUTHed at the relay (a browser on WebSocket, or a native
// client on TCP): peers reach it through its Use-Path (RFC 4976 §5.1).
type relayClient struct {
	counter
	w    wire
	self msrp.URI
	use  msrp.URI
}

// newRelayClient connects to a relay — over WebSocket to the /msrp path of the HTTP listener
// at addr, or over TCP to the MSRP listener at addr — and AUTHs.
func newRelayClient(ctx context.Context, transport, addr string) (*relayClient, error) {
	var w wire
	var self msrp.URI
	var err error
	switch transport {
	case "ws":
		w, err = dialWS(ctx, addr)
		self, _ = msrp.ParseURI("msrp://" + msrp.NewIdent() + ".invalid:2855/" + msrp.NewIdent() + ";ws")
	default:
		w, err = dialTCP(addr)
		self, _ = msrp.ParseURI("msrp://127.0.0.1:9/" + msrp.NewIdent() + ";tcp")
	}
	if err != nil {
		return nil, err
	}
	use, err := authenticate(w, self)
	if err != nil {
		w.close()
		return nil, err
	}
	return &relayClient{w: w, self: self, use: use}, nil
}

// path is the To-Path that reaches this client from a peer: its relay URI, then itself.
func (c *relayClient) path() []msrp.URI { return []msrp.URI{c.use, c.self} }

// receive makes c answer and count what arrives, until it closes.
func (c *relayClient) receive() { go answer(c.w, c.self, c.onSend, nil) }

func (c *relayClient) close() { c.w.close() }

// sender is the sending side of one measurement. It is used by one measurement at a time:
// pump, paced or sendFile, once.
type sender struct {
	w    wire
	from msrp.URI
	to   []msrp.URI

	// Tallies of the responses to its SENDs, written by its reading goroutine.
	ok, failed atomic.Int64
	lastFailed atomic.Int64 // status code of the latest non-200 response
}

// watch reads the sender's connection in a goroutine: it answers requests, tallies
// responses and calls onResponse for each. The returned channel yields the error that ended
// the reading (the connection closed) and is then closed.
func (s *sender) watch(onResponse func()) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- answer(s.w, s.from, nil, func(m *msrp.Message) {
			if m.Code == 200 {
				s.ok.Add(1)
			} else {
				s.failed.Add(1)
				s.lastFailed.Store(int64(m.Code))
			}
			if onResponse != nil {
				onResponse()
			}
		})
		close(done)
	}()
	return done
}

// diagnose explains why a run delivered nothing: what the relay answered, if anything.
func (s *sender) diagnose() error {
	switch {
	case s.ok.Load() == 0 && s.failed.Load() == 0:
		return errors.New("no response to any SEND and nothing delivered")
	case s.failed.Load() > 0:
		return fmt.Errorf("nothing delivered; %d SENDs answered %d", s.failed.Load(), s.lastFailed.Load())
	}
	return errNothing
}

// sendTemplate is an encoded SEND whose 16-character transaction id is patched in place for
// every message, so the load generator costs little next to what it measures. A body of at
// least tagLen bytes starts with a 16-digit tag, patched in place by setTag.
type sendTemplate struct {
	b          []byte
	tid1, tid2 int // offsets of the transaction id in the start line and the end-line
	body       int // offset of the body
	size       int // body length
}

const (
	tidLen = 16
	tagLen = 16
)

func newTemplate(to []msrp.URI, from msrp.URI, size int) sendTemplate {
	tid := bytes.Repeat([]byte("t"), tidLen)
	body := bytes.Repeat([]byte("x"), size)
	m := &msrp.Message{TransactionID: string(tid), Method: msrp.MethodSEND, ToPath: to, FromPath: []msrp.URI{from},
		MessageID: "benchmsg0001", ByteRange: &msrp.ByteRange{Start: 1, End: int64(size), Total: int64(size)},
		ContentType: "text/plain", Body: body, HasBody: true, Flag: msrp.FlagEnd}
	b := m.Bytes()
	// The message ends: body CRLF "-------" tid flag CRLF (RFC 4975 §7.1).
	tid2 := len(b) - len("$\r\n") - tidLen
	t := sendTemplate{b: b, tid1: len("MSRP "), tid2: tid2, body: tid2 - len("\r\n-------") - size, size: size}
	t.setTag(0)
	return t
}

// putDigits writes n as 16 decimal digits (the low 16 digits of n) into d.
func putDigits(d *[16]byte, n uint64) {
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = byte('0' + n%10)
		n /= 10
	}
}

// parseDigits is the inverse of putDigits; ok is false unless b holds 16 decimal digits.
func parseDigits(b []byte) (n uint64, ok bool) {
	if len(b) < 16 {
		return 0, false
	}
	for _, c := range b[:16] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// next returns the SEND with transaction id n; it is valid until the next call on t.
func (t *sendTemplate) next(n uint64) []byte {
	var d [tidLen]byte
	putDigits(&d, n)
	copy(t.b[t.tid1:], d[:])
	copy(t.b[t.tid2:], d[:])
	return t.b
}

// setTag writes tag as the body's first 16 bytes (nothing when the body is shorter).
func (t *sendTemplate) setTag(tag uint64) {
	if t.size < tagLen {
		return
	}
	var d [tagLen]byte
	putDigits(&d, tag)
	copy(t.b[t.body:], d[:])
}

// pump sends SEND messages of size bytes as fast as the window allows — at most window
// transactions without their response — until ctx ends.
func (s *sender) pump(ctx context.Context, size, window int) error {
	tmpl := newTemplate(s.to, s.from, size)
	slots := make(chan struct{}, window)
	closed := s.watch(func() {
		select {
		case <-slots:
		default:
		}
	})
	for n := uint64(1); ; n++ {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		case err := <-closed:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("the relay closed the connection (%v)", err)
		}
		if err := s.w.write(tmpl.next(n)); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return writeError(err)
		}
	}
}

// paced sends SENDs on an open-loop schedule (it never waits for a response): message i,
// tagged tagBase+i in its body, is due at start+sched.due(i). It sends every message that is
// due, back to back, then waits for the next due time — sleeping, then spinning for the last
// spinMargin — and stops when elapsed reaches end or ctx ends. It returns how many it sent.
func (s *sender) paced(ctx context.Context, size int, sched schedule, tagBase uint64, start time.Time, end time.Duration) (int64, error) {
	tmpl := newTemplate(s.to, s.from, size)
	closed := s.watch(nil)
	sl := newPreciseSleeper()
	defer sl.done()
	var sent int64
	for ctx.Err() == nil {
		el := time.Since(start)
		if el >= end {
			break
		}
		for due := sched.dueBy(el); sent < due; sent++ {
			tmpl.setTag(tagBase + uint64(sent))
			if err := s.w.write(tmpl.next(uint64(sent + 1))); err != nil {
				return sent, writeError(err)
			}
		}
		select {
		case err := <-closed:
			return sent, fmt.Errorf("the relay closed the connection (%v)", err)
		default:
		}
		at := sched.due(sent)
		if wait := at - time.Since(start) - spinMargin; wait > 0 {
			sl.sleep(wait)
		}
		for time.Since(start) < at {
			runtime.Gosched()
		}
	}
	return sent, nil
}

// writeError names a write that failed because the relay closed or reset the connection.
func writeError(err error) error {
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("the relay closed the connection (%w)", err)
	}
	return fmt.Errorf("write: %w", err)
}

// spinMargin is how long before a send time paced stops sleeping and spins: a sleep wakes
// tens of microseconds late, an interval at 10,000 msgs/s is 100.
const spinMargin = 50 * time.Microsecond

// sendFile sends total bytes as one message of chunks of chunk bytes, at most window of them
// awaiting their response. A chunk as large as the message is streamed in 1 MiB writes, as a
// sender reading a file would.
func (s *sender) sendFile(ctx context.Context, total int64, chunk int64, window int) error {
	slots := make(chan struct{}, window)
	s.watch(func() {
		select {
		case <-slots:
		default:
		}
	})
	block := bytes.Repeat([]byte("z"), 1<<20)
	m := &msrp.Message{Method: msrp.MethodSEND, ToPath: s.to, FromPath: []msrp.URI{s.from},
		MessageID: msrp.NewIdent(), ContentType: "application/octet-stream", HasBody: true}
	var buf []byte
	for off := int64(0); off < total; off += chunk {
		n := min(chunk, total-off)
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		m.TransactionID = msrp.NewIdent()
		m.ByteRange = &msrp.ByteRange{Start: off + 1, End: off + n, Total: total}
		flag := msrp.FlagContinue
		if off+n == total {
			flag = msrp.FlagEnd
		}
		if n <= int64(len(block)) {
			m.Body, m.Flag = block[:n], flag
			buf = m.Append(buf[:0])
			if err := s.w.write(buf); err != nil {
				return err
			}
			continue
		}
		// One long chunk: only a TCP wire can carry it.
		m.Body = nil
		if err := s.w.write(m.AppendHead(nil)); err != nil {
			return err
		}
		for sent := int64(0); sent < n; sent += int64(len(block)) {
			if err := s.w.write(block[:min(int64(len(block)), n-sent)]); err != nil {
				return err
			}
		}
		if err := s.w.write(msrp.AppendEndLine(nil, m.TransactionID, flag, true)); err != nil {
			return err
		}
	}
	return nil
}

// waitBytes waits until c has counted want more bytes than it had at from.
func waitBytes(ctx context.Context, c *counter, from, want int64) error {
	for c.bytes.Load()-from < want {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

var errNothing = errors.New("no message reached the receiver")
