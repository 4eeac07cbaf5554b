package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/simplegw/simplegw/bridge/auth"
	"github.com/simplegw/simplegw/bridge/msrp"
)

// sink is the TCP peer at the far end: it counts complete SEND messages and answers each
// with 200 (RFC 4975 §7.2).
type sink struct {
	ln    net.Listener
	uri   msrp.URI
	n     atomic.Int64 // complete messages
	bytes atomic.Int64 // body bytes of every chunk
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
	go s.accept()
	return s, nil
}

func (s *sink) addr() string { return s.ln.Addr().String() }
func (s *sink) count() int64 { return s.n.Load() }
func (s *sink) close()       { s.ln.Close() }
func (s *sink) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.serve(c)
	}
}

func (s *sink) serve(c net.Conn) {
	defer c.Close()
	rd := msrp.NewReader(c, 0, 0)
	var out []byte
	for {
		p, err := rd.Next()
		if err != nil {
			var pe *msrp.ParseError
			if errors.As(err, &pe) {
				continue
			}
			return
		}
		m := p.Message
		if m.Method == msrp.MethodSEND {
			s.bytes.Add(int64(len(p.Body)))
		}
		if !p.Final || m.Method != msrp.MethodSEND {
			continue
		}
		if m.Flag == msrp.FlagEnd {
			s.n.Add(1)
		}
		if m.FailureReport != msrp.ReportNo {
			out = msrp.NewResponse(m, 200, "OK", s.uri).Append(out[:0])
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

// loadClient sends SEND chunks of one size with at most window transactions outstanding.
type loadClient interface {
	pump(ctx context.Context, size, window int) error
	close()
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

// window runs the send loop shared by the clients: acquire a slot, send, and let the response
// reader free it.
func window(ctx context.Context, size, w int, send func(uint64) error, responses <-chan error) error {
	slots := make(chan struct{}, w)
	go func() {
		for range responses {
			select {
			case <-slots:
			default:
			}
		}
	}()
	for n := uint64(1); ; n++ {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := send(n); err != nil {
			return err
		}
	}
}

// tcpClient is the baseline's client: MSRP over a plain TCP connection.
type tcpClient struct {
	c    net.Conn
	tmpl sendTemplate
	size int
	to   msrp.URI
}

func dialTCPClient(addr string, to msrp.URI) (loadClient, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &tcpClient{c: c, to: to}, nil
}

func (c *tcpClient) pump(ctx context.Context, size, w int) error {
	from, _ := msrp.ParseURI("msrp://127.0.0.1:9/benchclient;tcp")
	c.tmpl = newTemplate([]msrp.URI{c.to}, from, size)
	resp := make(chan error, 1024)
	go func() {
		defer close(resp)
		rd := msrp.NewReader(c.c, 0, 0)
		for {
			if _, err := rd.Next(); err != nil {
				return
			}
			resp <- nil
		}
	}()
	go func() { <-ctx.Done(); c.c.Close() }()
	err := window(ctx, size, w, func(n uint64) error { _, err := c.c.Write(c.tmpl.next(n)); return err }, resp)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (c *tcpClient) close() { c.c.Close() }

// wsClient is a browser-like client: MSRP over WebSocket to the relay (RFC 7977), AUTHed.
type wsClient struct {
	ws   *websocket.Conn
	self msrp.URI
	use  msrp.URI
	to   msrp.URI
}

func dialWSClient(ctx context.Context, httpAddr string, to msrp.URI) (loadClient, error) {
	ws, _, err := websocket.Dial(ctx, "ws://"+httpAddr+"/msrp", &websocket.DialOptions{Subprotocols: []string{"msrp"}})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(1 << 20)
	self, _ := msrp.ParseURI("msrp://" + msrp.NewIdent() + ".invalid:2855/" + msrp.NewIdent() + ";ws")
	c := &wsClient{ws: ws, self: self, to: to}
	if err := c.auth(ctx); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("AUTH: %w", err)
	}
	return c, nil
}

// auth obtains a relay URI (RFC 4976 §5.1). The gateway runs in its open loopback demo mode,
// so any name and password pass the digest check.
func (c *wsClient) auth(ctx context.Context) error {
	relay, _ := msrp.ParseURI("msrp://127.0.0.1:2855;tcp")
	ask := func(authz string) (*msrp.Message, error) {
		m := &msrp.Message{TransactionID: msrp.NewIdent(), Method: msrp.MethodAUTH, ToPath: []msrp.URI{relay}, FromPath: []msrp.URI{c.self}}
		if authz != "" {
			m.Fields = []msrp.Field{{Name: "Authorization", Value: authz}}
		}
		if err := c.ws.Write(ctx, websocket.MessageBinary, m.Bytes()); err != nil {
			return nil, err
		}
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		return msrp.Parse(b)
	}
	ch, err := ask("")
	if err != nil {
		return err
	}
	wa, _ := ch.Get("WWW-Authenticate")
	_, p, err := auth.ParseParams(wa)
	if err != nil {
		return err
	}
	h := func(s string) string { d := md5.Sum([]byte(s)); return hex.EncodeToString(d[:]) }
	uri := relay.String()
	resp := h(h("bench:"+p["realm"]+":bench") + ":" + p["nonce"] + ":00000001:0a4f113b:auth:" + h("AUTH:"+uri))
	ok, err := ask(fmt.Sprintf(`Digest username="bench", realm=%q, nonce=%q, uri=%q, response=%q, qop=auth, nc=00000001, cnonce="0a4f113b"`,
		p["realm"], p["nonce"], uri, resp))
	if err != nil {
		return err
	}
	if ok.Code != 200 {
		return errors.New("status " + strconv.Itoa(ok.Code) + " " + ok.Comment)
	}
	up, err := ok.UsePath()
	if err != nil {
		return err
	}
	c.use = up[0]
	return nil
}

func (c *wsClient) pump(ctx context.Context, size, w int) error {
	tmpl := newTemplate([]msrp.URI{c.use, c.to}, c.self, size)
	resp := make(chan error, 1024)
	go func() {
		defer close(resp)
		buf := bufio.NewReader(nil)
		for {
			_, r, err := c.ws.Reader(context.Background())
			if err != nil {
				return
			}
			buf.Reset(r)
			io.Copy(io.Discard, buf)
			resp <- nil
		}
	}()
	err := window(ctx, size, w, func(n uint64) error {
		return c.ws.Write(context.Background(), websocket.MessageBinary, tmpl.next(n))
	}, resp)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (c *wsClient) close() { c.ws.CloseNow() }

// transferWSToTCP sends total bytes as one message from a WebSocket client through the relay
// to the sink, in chunks of chunk bytes with window w, and waits until the sink has it all.
func transferWSToTCP(ctx context.Context, httpAddr string, s *sink, total int64, chunk, w int) (time.Duration, error) {
	lc, err := dialWSClient(ctx, httpAddr, s.uri)
	if err != nil {
		return 0, err
	}
	c := lc.(*wsClient)
	defer c.close()
	before := s.bytes.Load()
	resp := make(chan error, 1024)
	go func() {
		defer close(resp)
		for {
			_, r, err := c.ws.Reader(context.Background())
			if err != nil {
				return
			}
			io.Copy(io.Discard, r)
			resp <- nil
		}
	}()
	body := bytes.Repeat([]byte("y"), chunk)
	msgID := msrp.NewIdent()
	m := &msrp.Message{Method: msrp.MethodSEND, ToPath: []msrp.URI{c.use, c.to}, FromPath: []msrp.URI{c.self},
		MessageID: msgID, ContentType: "application/octet-stream", HasBody: true}
	var buf []byte
	start := time.Now()
	var off int64
	err = window(ctx, chunk, w, func(uint64) error {
		if off >= total {
			return errDone
		}
		n := min(int64(chunk), total-off)
		m.TransactionID = msrp.NewIdent()
		m.ByteRange = &msrp.ByteRange{Start: off + 1, End: off + n, Total: total}
		m.Flag = msrp.FlagContinue
		if off+n == total {
			m.Flag = msrp.FlagEnd
		}
		m.Body = body[:n]
		buf = m.Append(buf[:0])
		off += n
		return c.ws.Write(ctx, websocket.MessageBinary, buf)
	}, resp)
	if err != nil && err != errDone {
		return 0, err
	}
	for s.bytes.Load()-before < total {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return time.Since(start), nil
}

var errDone = errors.New("done")

// transferTCPToWS sends total bytes from a plain TCP peer as ONE chunk to a WebSocket client
// through the relay, which must stream and re-chunk it (RFC 7977 §5.1); the WebSocket client
// answers every chunk and counts the bytes.
func transferTCPToWS(ctx context.Context, httpAddr, msrpAddr string, total int64) (time.Duration, error) {
	lc, err := dialWSClient(ctx, httpAddr, msrp.URI{})
	if err != nil {
		return 0, err
	}
	c := lc.(*wsClient)
	defer c.close()
	got := make(chan error, 1)
	go func() {
		var n int64
		var out []byte
		b := make([]byte, 0, 128<<10)
		for n < total {
			_, r, err := c.ws.Reader(ctx)
			if err != nil {
				got <- err
				return
			}
			b = b[:0]
			for err == nil {
				if len(b) == cap(b) {
					b = append(b, 0)[:len(b)]
				}
				var k int
				k, err = r.Read(b[len(b):cap(b)])
				b = b[:len(b)+k]
			}
			if err != io.EOF {
				got <- err
				return
			}
			m, err := msrp.Parse(b)
			if err != nil {
				got <- err
				return
			}
			if m.Method != msrp.MethodSEND {
				continue
			}
			n += int64(len(m.Body))
			out = msrp.NewResponse(m, 200, "OK", c.self).Append(out[:0])
			if err := c.ws.Write(ctx, websocket.MessageBinary, out); err != nil {
				got <- err
				return
			}
		}
		got <- nil
	}()
	nc, err := net.Dial("tcp", msrpAddr)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	go io.Copy(io.Discard, nc)
	from, _ := msrp.ParseURI("msrp://127.0.0.1:9/bigsender;tcp")
	m := &msrp.Message{TransactionID: msrp.NewIdent(), Method: msrp.MethodSEND, ToPath: []msrp.URI{c.use, c.self},
		FromPath: []msrp.URI{from}, MessageID: msrp.NewIdent(), ByteRange: &msrp.ByteRange{Start: 1, End: total, Total: total},
		ContentType: "application/octet-stream", HasBody: true}
	start := time.Now()
	if _, err := nc.Write(m.AppendHead(nil)); err != nil {
		return 0, err
	}
	block := bytes.Repeat([]byte("z"), 1<<20)
	for off := int64(0); off < total; off += int64(len(block)) {
		n := min(int64(len(block)), total-off)
		if _, err := nc.Write(block[:n]); err != nil {
			return 0, err
		}
	}
	if _, err := nc.Write(msrp.AppendEndLine(nil, m.TransactionID, msrp.FlagEnd, true)); err != nil {
		return 0, err
	}
	if err := <-got; err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// transferSplice is the baseline of the transfer rows: the same single chunk from a TCP
// client through the splice proxy to the sink.
func transferSplice(ctx context.Context, spliceAddr string, s *sink, total int64) (time.Duration, error) {
	nc, err := net.Dial("tcp", spliceAddr)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	go io.Copy(io.Discard, nc)
	from, _ := msrp.ParseURI("msrp://127.0.0.1:9/splicesender;tcp")
	m := &msrp.Message{TransactionID: msrp.NewIdent(), Method: msrp.MethodSEND, ToPath: []msrp.URI{s.uri},
		FromPath: []msrp.URI{from}, MessageID: msrp.NewIdent(), ByteRange: &msrp.ByteRange{Start: 1, End: total, Total: total},
		ContentType: "application/octet-stream", HasBody: true}
	before := s.bytes.Load()
	start := time.Now()
	if _, err := nc.Write(m.AppendHead(nil)); err != nil {
		return 0, err
	}
	block := bytes.Repeat([]byte("z"), 1<<20)
	for off := int64(0); off < total; off += int64(len(block)) {
		if _, err := nc.Write(block[:min(int64(len(block)), total-off)]); err != nil {
			return 0, err
		}
	}
	if _, err := nc.Write(msrp.AppendEndLine(nil, m.TransactionID, msrp.FlagEnd, true)); err != nil {
		return 0, err
	}
	for s.bytes.Load()-before < total {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return time.Since(start), nil
}
