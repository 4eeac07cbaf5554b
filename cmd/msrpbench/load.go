package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/simplegw/simplegw/bridge/msrp"
)

// counter counts what a receiving endpoint got: whole messages and body bytes.
type counter struct {
	n     atomic.Int64
	bytes atomic.Int64
}

func (c *counter) onSend(n int, last bool) {
	c.bytes.Add(int64(n))
	if last {
		c.n.Add(1)
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

func newRelayClient(ctx context.Context, transport string, gw *gatewayProc) (*relayClient, error) {
	var w wire
	var self msrp.URI
	var err error
	switch transport {
	case "ws":
		w, err = dialWS(ctx, gw.http)
		self, _ = msrp.ParseURI("msrp://" + msrp.NewIdent() + ".invalid:2855/" + msrp.NewIdent() + ";ws")
	default:
		w, err = dialTCP(gw.msrp)
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

// sender is the sending side of one measurement.
type sender struct {
	w    wire
	from msrp.URI
	to   []msrp.URI
}

// sendTemplate is an encoded SEND whose 16-character transaction id is patched in place for
// every message, so the load generator costs little next to what it measures.
type sendTemplate struct {
	b          []byte
	tid1, tid2 int // offsets of the transaction id in the start line and the end-line
}

const tidLen = 16

func newTemplate(to []msrp.URI, from msrp.URI, size int) sendTemplate {
	tid := bytes.Repeat([]byte("t"), tidLen)
	body := bytes.Repeat([]byte("x"), size)
	m := &msrp.Message{TransactionID: string(tid), Method: msrp.MethodSEND, ToPath: to, FromPath: []msrp.URI{from},
		MessageID: "benchmsg0001", ByteRange: &msrp.ByteRange{Start: 1, End: int64(size), Total: int64(size)},
		ContentType: "text/plain", Body: body, HasBody: true, Flag: msrp.FlagEnd}
	b := m.Bytes()
	return sendTemplate{b: b, tid1: len("MSRP "), tid2: len(b) - len("$\r\n") - tidLen}
}

func (t *sendTemplate) next(n uint64) []byte {
	var d [tidLen]byte
	for i := tidLen - 1; i >= 0; i-- {
		d[i] = byte('0' + n%10)
		n /= 10
	}
	copy(t.b[t.tid1:], d[:])
	copy(t.b[t.tid2:], d[:])
	return t.b
}

// pump sends SEND messages of size bytes as fast as the window allows — at most window
// transactions without their response — until ctx ends.
func (s *sender) pump(ctx context.Context, size, window int) error {
	tmpl := newTemplate(s.to, s.from, size)
	slots := make(chan struct{}, window)
	go answer(s.w, s.from, nil, func(*msrp.Message) {
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
		}
		if err := s.w.write(tmpl.next(n)); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// sendFile sends total bytes as one message of chunks of chunk bytes, at most window of them
// awaiting their response. A chunk as large as the message is streamed in 1 MiB writes, as a
// sender reading a file would.
func (s *sender) sendFile(ctx context.Context, total int64, chunk int64, window int) error {
	slots := make(chan struct{}, window)
	go answer(s.w, s.from, nil, func(*msrp.Message) {
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
