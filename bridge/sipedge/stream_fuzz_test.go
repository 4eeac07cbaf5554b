package sipedge

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// errorCounter is a slog handler that counts records at level Error: the
// edge logs every recovered panic at that level.
type errorCounter struct{ n *atomic.Int32 }

func (h errorCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h errorCounter) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h errorCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h errorCounter) WithGroup(string) slog.Handler      { return h }

// FuzzStreamFraming feeds arbitrary bytes, in two reads split anywhere, to
// the TCP reader (RFC 3261 §18.3 framing, RFC 5626 §3.5.1 keepalives). The
// reader must not panic and must return once the peer closes; what the edge
// sends is CRLF pongs (at least one when the input is only CR/LF holding a
// double CRLF) and well-formed responses.
func FuzzStreamFraming(f *testing.F) {
	opt := "OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.9:5060;branch=z9hG4bK1\r\nFrom: <sip:a@localhost>;tag=1\r\nTo: <sip:localhost>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	for _, s := range []struct {
		data  string
		split uint16
	}{
		{"\r\n\r\n", 2},
		{"\r\n\r\n", 3},
		{opt + "\r\n\r\n", uint16(len(opt))},
		{opt + "\r\n\r\n" + opt, 7},
		{"\r\n\r\n" + opt + "\r\n", 4},
		{"\n\n\n\n\r\n\r", 5},
		{"MESSAGE sip:bob@localhost SIP/2.0\r\nContent-Length: 99999\r\n\r\nabc", 10},
		{"\x00\xff garbage\r\n\r\n", 3},
	} {
		f.Add([]byte(s.data), s.split)
	}
	var errs atomic.Int32
	e, err := New(Config{Domain: "localhost", Logger: slog.New(errorCounter{&errs})})
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close()
	e.hopFilter = func(*nextHop) error { return errors.New("no next hops while fuzzing") }

	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		a, b := net.Pipe()
		defer b.Close()
		fl := &flow{e: e, transport: "TCP", token: newToken(), remote: "192.0.2.9:5060", local: a.LocalAddr(),
			out: make(chan []byte, 4*sendQueue), done: make(chan struct{}), closeFn: func(string) { a.Close() }}
		e.mu.Lock()
		e.flows[fl.token] = fl
		e.mu.Unlock()
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.readStream(fl, a)
		}()
		k := int(split) % (len(data) + 1)
		b.Write(data[:k]) // errors: the reader gave up on a framing error
		b.Write(data[k:])
		b.Close()
		select {
		case <-done:
		case <-time.After(waitFor):
			t.Fatal("the stream reader did not return after the peer closed")
		}
		if n := errs.Swap(0); n > 0 {
			t.Fatalf("%d errors logged (a panic was recovered)", n)
		}
		pongs := 0
		for len(fl.out) > 0 {
			m := <-fl.out
			if string(m) == "\r\n" {
				pongs++
			}
			if problem := checkSent(m); problem != "" {
				t.Fatalf("edge sent a bad message (%s):\n%s", problem, m)
			}
		}
		if len(data) > 0 && len(bytes.Trim(data, "\r\n")) == 0 && bytes.Contains(data, []byte("\r\n\r\n")) && pongs == 0 {
			t.Fatalf("no pong for %q split at %d", data, k)
		}
	})
}
