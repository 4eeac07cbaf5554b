package endpoint

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/simplegw/simplegw/bridge/msrp"
)

func TestTextAndMultiChunkOverTCP(t *testing.T) {
	ctx := testCtx(t)
	sinks := &fileSinks{dir: t.TempDir()}
	p := newPair(t, Options{OpenSink: func(first *msrp.Message) (io.WriterAt, error) {
		if strings.HasPrefix(first.ContentType, "text/") {
			return nil, nil // in memory
		}
		return sinks.open(first)
	}}, Options{})

	res, err := p.c.Send(ctx, p.cs, "text/plain", strings.NewReader("Hi, I'm Alice!"), 14, SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != 14 || res.Transactions != 1 {
		t.Errorf("result = %+v", res)
	}
	m := p.lin.next(t, ctx)
	if m.Err != nil || string(m.Body) != "Hi, I'm Alice!" || m.ContentType != "text/plain" || m.Size != 14 {
		t.Fatalf("got %+v", m)
	}
	if m.MessageID != res.MessageID || !m.Local.Equal(p.ls.Local) || len(m.FromPath) != 1 || !m.FromPath[0].Equal(p.cs.Local) {
		t.Errorf("addressing: id %s local %s from %v", m.MessageID, m.Local, m.FromPath)
	}
	if m.Conn == nil || p.l.Conn(p.ls.Local) != m.Conn {
		t.Error("session not bound to the connection it arrived on")
	}

	// A multi-chunk message streamed to a file, size known.
	data := randomBytes(t, 300_000)
	res, err = p.c.Send(ctx, p.cs, "application/octet-stream", bytes.NewReader(data), int64(len(data)),
		SendOptions{ChunkSize: 65536, Window: 2, Fields: []msrp.Field{{Name: "Content-Disposition", Value: `attachment; filename="x.bin"`}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != int64(len(data)) || res.Transactions < 5 {
		t.Errorf("result = %+v, want %d bytes in at least 5 chunks", res, len(data))
	}
	m = p.lin.next(t, ctx)
	if m.Err != nil || m.Size != int64(len(data)) || m.Sink == nil || m.Body != nil {
		t.Fatalf("got %+v", m)
	}
	if got := sumOf(t, m); got != sum(data) {
		t.Errorf("sha256 %s, want %s", got, sum(data))
	}
	if v, _ := m.Header.Get("Content-Disposition"); !strings.Contains(v, "x.bin") {
		t.Errorf("Content-Disposition %q not kept", v)
	}

	// Size unknown: Byte-Range total "*" until the last chunk.
	data = randomBytes(t, 150_001)
	res, err = p.c.Send(ctx, p.cs, "application/octet-stream", io.MultiReader(bytes.NewReader(data[:7]), bytes.NewReader(data[7:])), -1,
		SendOptions{ChunkSize: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	m = p.lin.next(t, ctx)
	if m.Err != nil || m.Size != int64(len(data)) || sumOf(t, m) != sum(data) || res.Bytes != int64(len(data)) {
		t.Fatalf("unknown-size message: %+v, result %+v", m, res)
	}

	// Empty message: Byte-Range 1-0/0 (RFC 4975 §7.1.1).
	if _, err := p.c.Send(ctx, p.cs, "text/plain", strings.NewReader(""), 0, SendOptions{}); err != nil {
		t.Fatal(err)
	}
	m = p.lin.next(t, ctx)
	if m.Err != nil || m.Size != 0 || m.Body == nil || len(m.Body) != 0 {
		t.Fatalf("empty message: %+v", m)
	}

	// The listener answers on the same connection (Reply), and the dialer receives.
	if _, err := m.Conn.Send(ctx, m.Reply(), "text/plain", strings.NewReader("Hi Alice"), 8, SendOptions{}); err != nil {
		t.Fatal(err)
	}
	back := p.cin.next(t, ctx)
	if string(back.Body) != "Hi Alice" || !back.Local.Equal(p.cs.Local) {
		t.Fatalf("reply: %+v", back)
	}

	// Bodiless SEND: a keepalive, answered 200, nothing delivered.
	if err := p.c.Keepalive(ctx, p.cs); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-p.lin.ch:
		t.Fatalf("keepalive delivered a message: %+v", m)
	default:
	}
}

func TestOutOfOrderAndOverlappingChunks(t *testing.T) {
	ctx := testCtx(t)
	p := newPair(t, Options{}, Options{})
	raw := dialRaw(t, p.l.Addr().String())
	from := mustURI(t, "msrp://127.0.0.1:9/rawpeer;tcp")

	orig := bytes.Repeat([]byte("0123456789"), 30) // 300 bytes
	chunk := func(tid string, start, end int64, body []byte, flag byte) *msrp.Message {
		return &msrp.Message{TransactionID: tid, Method: msrp.MethodSEND, ToPath: []msrp.URI{p.ls.Local},
			FromPath: []msrp.URI{from}, MessageID: "ooo1", SuccessReport: msrp.ReportYes,
			ByteRange: &msrp.ByteRange{Start: start, End: end, Total: 300}, ContentType: "text/plain",
			Body: body, HasBody: true, Flag: flag}
	}
	xs := bytes.Repeat([]byte("X"), 101)
	// The last chunk first; then 1-100; then 50-150, which overwrites 50-100 (RFC 4975
	// §7.3.1); then 151-200.
	sends := []*msrp.Message{
		chunk("tid1", 201, 300, orig[200:], '$'),
		chunk("tid2", 1, 100, orig[:100], '+'),
		chunk("tid3", 50, 150, xs, '+'),
		chunk("tid4", 151, 200, orig[150:200], '+'),
	}
	for _, s := range sends {
		raw.send(s)
		r := raw.read()
		if r.TransactionID != s.TransactionID || r.Code != 200 {
			t.Fatalf("response %s %d, want %s 200", r.TransactionID, r.Code, s.TransactionID)
		}
		if len(r.ToPath) != 1 || !r.ToPath[0].Equal(from) || !r.FromPath[0].Equal(p.ls.Local) {
			t.Errorf("response paths %v %v", r.ToPath, r.FromPath)
		}
	}
	want := append(append(append([]byte(nil), orig[:49]...), xs...), orig[150:]...)
	m := p.lin.next(t, ctx)
	if m.Err != nil || !bytes.Equal(m.Body, want) {
		t.Fatalf("reassembled %q (err %v), want %q", m.Body, m.Err, want)
	}
	// Success-Report yes: one REPORT covering the whole message (RFC 4975 §7.1.3).
	rep := raw.read()
	if rep.Method != msrp.MethodREPORT || rep.MessageID != "ooo1" || rep.Status == nil || rep.Status.Code != 200 ||
		rep.ByteRange == nil || *rep.ByteRange != (msrp.ByteRange{Start: 1, End: 300, Total: 300}) ||
		!rep.ToPath[0].Equal(from) || !rep.FromPath[0].Equal(p.ls.Local) {
		t.Fatalf("report = %+v", rep)
	}
	if rep.SuccessReport != "" || rep.FailureReport != "" {
		t.Error("REPORT carries Success-Report or Failure-Report (RFC 4975 §7.1.2)")
	}
}

func TestSuccessReport(t *testing.T) {
	ctx := testCtx(t)
	p := newPair(t, Options{}, Options{})
	for _, fr := range []string{"", msrp.ReportPartial, msrp.ReportNo} {
		data := randomBytes(t, 100_000)
		res, err := p.c.Send(ctx, p.cs, "application/octet-stream", bytes.NewReader(data), int64(len(data)),
			SendOptions{ChunkSize: 30_000, SuccessReport: true, FailureReport: fr})
		if err != nil {
			t.Fatalf("Failure-Report %q: %v", fr, err)
		}
		if !res.Reported {
			t.Errorf("Failure-Report %q: not reported", fr)
		}
		if m := p.lin.next(t, ctx); sum(m.Body) != sum(data) {
			t.Errorf("Failure-Report %q: body differs", fr)
		}
	}
}

func TestTLS(t *testing.T) {
	ctx := testCtx(t)
	cert, pool := selfSigned(t)
	p := newPair(t, Options{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}},
		Options{TLSConfig: &tls.Config{RootCAs: pool}})
	if !p.ls.Local.Secure || !p.cs.Local.Secure || p.c.Transport() != "tls" {
		t.Fatalf("URIs not msrps: %s %s", p.ls.Local, p.cs.Local)
	}
	if _, err := p.c.Send(ctx, p.cs, "text/plain", strings.NewReader("secret"), 6, SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if m := p.lin.next(t, ctx); string(m.Body) != "secret" {
		t.Fatalf("got %q", m.Body)
	}
	// Dialling the msrps URI itself works as well.
	c2, err := Dial(ctx, p.ls.Local.String(), Options{TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Transport() != "tls" {
		t.Errorf("transport %s", c2.Transport())
	}
	// An untrusted certificate is refused.
	if _, err := Dial(ctx, p.target, Options{}); err == nil {
		t.Error("self-signed certificate accepted without a root")
	}
}

func TestRefusals(t *testing.T) {
	ctx := testCtx(t)
	refuse := map[string]error{
		"application/x-unsupported": &StatusError{Code: 415},
		"application/x-full":        errors.New("disk full"),
	}
	p := newPair(t, Options{
		MaxInMemory: 1000,
		OpenSink: func(first *msrp.Message) (io.WriterAt, error) {
			return nil, refuse[first.ContentType]
		},
	}, Options{})

	cases := []struct {
		name  string
		s     *Session
		ctype string
		size  int
		code  int
	}{
		{"unknown session", p.c.NewSession([]msrp.URI{mustURI(t, "msrp://"+p.l.Addr().String()+"/nosuch;tcp")}), "text/plain", 5, 481},
		{"unsupported type", p.cs, "application/x-unsupported", 5, 415},
		{"sink error", p.cs, "application/x-full", 5, 413},
		{"too large for memory, total known", p.cs, "text/plain", 5000, 413},
	}
	for _, tc := range cases {
		res, err := p.c.Send(ctx, tc.s, tc.ctype, bytes.NewReader(make([]byte, tc.size)), int64(tc.size), SendOptions{ChunkSize: 1000, Window: 1})
		var se *StatusError
		if !errors.As(err, &se) || se.Code != tc.code || Code(err) != tc.code {
			t.Errorf("%s: err = %v, want %d", tc.name, err, tc.code)
			continue
		}
		if tc.size > 1000 && res.Bytes >= int64(tc.size) {
			t.Errorf("%s: sent all %d bytes after the refusal", tc.name, res.Bytes)
		}
	}
	// Too large, total unknown: the chunk that overflows gets 413 and the message stops.
	res, err := p.c.Send(ctx, p.cs, "text/plain", io.LimitReader(zeroReader{}, 50_000), -1, SendOptions{ChunkSize: 600, Window: 1})
	if Code(err) != 413 || res.Bytes >= 50_000 {
		t.Errorf("unknown-size overflow: err %v after %d bytes", err, res.Bytes)
	}
	// The refused messages are reported to the listener as failed.
	for i := 0; i < 4; i++ {
		if m := p.lin.next(t, ctx); m.Err == nil {
			t.Errorf("refused message delivered without error: %+v", m)
		}
	}
	// The connection still works.
	if _, err := p.c.Send(ctx, p.cs, "text/plain", strings.NewReader("ok"), 2, SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if m := p.lin.next(t, ctx); string(m.Body) != "ok" {
		t.Fatalf("got %+v", m)
	}

	// 506: the session is bound to the first connection (RFC 4975 §5.4).
	c2, err := Dial(ctx, p.target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	s2 := c2.NewSession([]msrp.URI{p.ls.Local})
	if _, err := c2.Send(ctx, s2, "text/plain", strings.NewReader("x"), 1, SendOptions{}); Code(err) != 506 {
		t.Errorf("second connection: err = %v, want 506", err)
	}
	// Once the first connection is gone, the session may be used again.
	p.c.Close()
	if p.l.Conn(p.ls.Local) != nil {
		// The listener learns of the close when its reader sees EOF; wait for that.
		for c := p.l.Conn(p.ls.Local); c != nil; c = p.l.Conn(p.ls.Local) {
			<-c.Done()
		}
	}
	if _, err := c2.Send(ctx, s2, "text/plain", strings.NewReader("y"), 1, SendOptions{}); err != nil {
		t.Errorf("after the first connection closed: %v", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// failingReader yields n bytes, then an error.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errors.New("disk failure")
	}
	k := min(len(p), r.n)
	clear(p[:k])
	r.n -= k
	return k, nil
}

// cancellingReader yields zeros; once n bytes have been read it cancels its context.
type cancellingReader struct {
	n      int
	cancel context.CancelFunc
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	clear(p)
	if r.n -= len(p); r.n <= 0 {
		r.cancel()
	}
	return len(p), nil
}

func TestAbortedMessage(t *testing.T) {
	ctx := testCtx(t)
	p := newPair(t, Options{}, Options{})
	res, err := p.c.Send(ctx, p.cs, "application/octet-stream", &failingReader{n: 25_000}, 100_000, SendOptions{ChunkSize: 10_000})
	if err == nil || !strings.Contains(err.Error(), "disk failure") {
		t.Fatalf("err = %v", err)
	}
	if res.Bytes != 20_000 {
		t.Errorf("sent %d bytes, want the two whole chunks", res.Bytes)
	}
	m := p.lin.next(t, ctx)
	if !errors.Is(m.Err, ErrAborted) || m.Size != 20_000 {
		t.Fatalf("got err %v size %d, want ErrAborted after 20000", m.Err, m.Size)
	}

	// Cancelling the context between chunks aborts the message with '#' as well.
	cctx, cancel := context.WithCancel(ctx)
	res, err = p.c.Send(cctx, p.cs, "application/octet-stream", &cancellingReader{n: 25_000, cancel: cancel}, 100_000,
		SendOptions{ChunkSize: 10_000})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	m = p.lin.next(t, ctx)
	if !errors.Is(m.Err, ErrAborted) || m.Size != res.Bytes {
		t.Fatalf("got err %v size %d, want ErrAborted after %d", m.Err, m.Size, res.Bytes)
	}

	// A connection lost mid-message reports the message as cut off.
	raw := dialRaw(t, p.l.Addr().String())
	raw.send(&msrp.Message{TransactionID: "cut1", Method: msrp.MethodSEND, ToPath: []msrp.URI{p.l.NewSession(nil).Local},
		FromPath: []msrp.URI{mustURI(t, "msrp://127.0.0.1:9/raw;tcp")}, MessageID: "cut1x", ContentType: "text/plain",
		ByteRange: &msrp.ByteRange{Start: 1, End: 5, Total: 10}, Body: []byte("hello"), HasBody: true, Flag: '+'})
	if r := raw.read(); r.Code != 200 {
		t.Fatalf("code %d", r.Code)
	}
	raw.nc.Close()
	m = p.lin.next(t, ctx)
	if !errors.Is(m.Err, ErrClosed) || m.MessageID != "cut1x" {
		t.Fatalf("got %+v", m)
	}
}

// TestBothWaysAtOnce sends large messages in both directions on one connection, and two at
// once in one direction, with a window of one: the reader never waits for the writer, so
// nothing deadlocks, and the interleaved chunks reassemble.
func TestBothWaysAtOnce(t *testing.T) {
	ctx := testCtx(t)
	p := newPair(t, Options{MaxInMemory: 8 << 20}, Options{MaxInMemory: 8 << 20})
	// Bind the listener's session to the connection and learn the way back.
	if _, err := p.c.Send(ctx, p.cs, "text/plain", strings.NewReader("hi"), 2, SendOptions{}); err != nil {
		t.Fatal(err)
	}
	first := p.lin.next(t, ctx)
	back := first.Reply()

	const n = 3 << 20
	a, b, c := randomBytes(t, n), randomBytes(t, n), randomBytes(t, n)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	send := func(conn *Conn, s *Session, data []byte) {
		defer wg.Done()
		_, err := conn.Send(ctx, s, "application/octet-stream", bytes.NewReader(data), int64(len(data)),
			SendOptions{ChunkSize: 256 << 10, Window: 1, SuccessReport: true})
		errs <- err
	}
	wg.Add(3)
	go send(p.c, p.cs, a)
	go send(p.c, p.cs, b)
	go send(first.Conn, back, c)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]bool{}
	for i := 0; i < 2; i++ {
		got[sum(p.lin.next(t, ctx).Body)] = true
	}
	if !got[sum(a)] || !got[sum(b)] {
		t.Error("listener did not get both messages intact")
	}
	if m := p.cin.next(t, ctx); sum(m.Body) != sum(c) {
		t.Error("dialer did not get its message intact")
	}
}

func TestRequestsOtherThanSend(t *testing.T) {
	ctx := testCtx(t)
	nick := make(chan *msrp.Message, 1)
	reports := make(chan *msrp.Message, 1)
	p := newPair(t, Options{
		OnRequest: func(c *Conn, req *msrp.Message) int {
			if req.Method == "NICKNAME" {
				nick <- req
				return 200
			}
			return 0 // fall back to 501
		},
	}, Options{OnReport: func(c *Conn, r *msrp.Message) { reports <- r }})

	// NICKNAME (RFC 7701) through Do.
	req := &msrp.Message{Method: "NICKNAME", ToPath: p.cs.ToPath, FromPath: []msrp.URI{p.cs.Local}}
	req.Set("Use-Nickname", `"alice"`)
	resp, err := p.c.Do(ctx, req)
	if err != nil || resp.Code != 200 {
		t.Fatalf("NICKNAME: %v %v", resp, err)
	}
	if got := <-nick; got.TransactionID != req.TransactionID {
		t.Error("NICKNAME not seen by OnRequest")
	}
	// Another unknown method: 501.
	_, err = p.c.Do(ctx, &msrp.Message{Method: "FOO", ToPath: p.cs.ToPath, FromPath: []msrp.URI{p.cs.Local}})
	if Code(err) != 501 {
		t.Errorf("FOO: %v, want 501", err)
	}
	// A REPORT for a message not being sent goes to OnReport.
	first := p.l.Conn(p.ls.Local)
	rep := &msrp.Message{Method: msrp.MethodREPORT, ToPath: []msrp.URI{p.cs.Local}, FromPath: []msrp.URI{p.ls.Local},
		MessageID: "late1", Status: &msrp.Status{Code: 408, Comment: "late"}}
	if _, err := first.Do(ctx, rep); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-reports:
		if r.MessageID != "late1" || r.Status.Code != 408 {
			t.Errorf("report %+v", r)
		}
	case <-ctx.Done():
		t.Fatal("REPORT not delivered")
	}
}

// TestBadInput feeds malformed and unexpected requests: each gets the RFC's answer (or,
// for REPORT, none) and the connection carries on; garbage framing closes only that
// connection.
func TestBadInput(t *testing.T) {
	p := newPair(t, Options{}, Options{})
	raw := dialRaw(t, p.l.Addr().String())
	to := "To-Path: " + p.ls.Local.String() + "\r\nFrom-Path: msrp://127.0.0.1:9/raw;tcp\r\n"
	cases := []struct {
		name, msg string
		code      int // 0: no answer
	}{
		{"bad Byte-Range", "MSRP bad1 SEND\r\n" + to + "Message-ID: msg1\r\nByte-Range: x\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------bad1$\r\n", 400},
		{"body without Content-Type", "MSRP bad2 SEND\r\n" + to + "Message-ID: msg2\r\n\r\nhi\r\n-------bad2$\r\n", 400},
		{"no Message-ID", "MSRP bad3 SEND\r\n" + to + "Content-Type: text/plain\r\n\r\nhi\r\n-------bad3$\r\n", 400},
		{"unknown method", "MSRP bad4 FOO\r\n" + to + "-------bad4$\r\n", 501},
		{"AUTH to an endpoint", "MSRP bad5 AUTH\r\n" + to + "-------bad5$\r\n", 501},
		{"non-SEND body over 10240", "MSRP bad6 FOO\r\n" + to + "Content-Type: text/plain\r\n\r\n" + strings.Repeat("a", 10241) + "\r\n-------bad6$\r\n", 413},
		{"REPORT never answered", "MSRP bad7 REPORT\r\n" + to + "Message-ID: msg7\r\nStatus: 000 200 OK\r\n-------bad7$\r\n", 0},
		{"REPORT with bad header", "MSRP bad8 REPORT\r\n" + to + "Status: x\r\n-------bad8$\r\n", 0},
		{"response to nothing", "MSRP bad9 200 OK\r\n" + to + "-------bad9$\r\n", 0},
		{"two To-Path URIs", "MSRP bad10 SEND\r\nTo-Path: " + p.ls.Local.String() + " " + p.ls.Local.String() +
			"\r\nFrom-Path: msrp://127.0.0.1:9/raw;tcp\r\nMessage-ID: msg10\r\n-------bad10$\r\n", 481},
		{"Failure-Report no, unknown session", "MSRP bad11 SEND\r\nTo-Path: msrp://127.0.0.1:1/x;tcp\r\nFrom-Path: msrp://127.0.0.1:9/raw;tcp\r\nMessage-ID: msg11\r\nFailure-Report: no\r\n-------bad11$\r\n", 0},
		{"Failure-Report partial, success", "MSRP bad12 SEND\r\n" + to + "Message-ID: msg12\r\nByte-Range: 1-2/2\r\nFailure-Report: partial\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------bad12$\r\n", 0},
		{"keepalive", "MSRP kal1 SEND\r\n" + to + "Message-ID: kal1\r\n-------kal1$\r\n", 200},
	}
	for _, tc := range cases {
		raw.write([]byte(tc.msg))
		if tc.code == 0 {
			continue
		}
		tid := strings.Fields(tc.msg)[1]
		r := raw.read()
		if r.TransactionID != tid || r.Code != tc.code {
			t.Errorf("%s: got %s %d, want %s %d (an unanswered request before it was answered?)", tc.name, r.TransactionID, r.Code, tid, tc.code)
		}
	}
	// The message sent with Failure-Report partial was delivered without a 200.
	if m := p.lin.next(t, testCtx(t)); m.MessageID != "msg12" {
		t.Errorf("delivered %s, want msg12", m.MessageID)
	}

	// Garbage framing ends that connection only.
	raw.write([]byte("HELLO WORLD\r\n\r\n"))
	if _, err := raw.r.Next(); err == nil {
		t.Error("connection still open after garbage")
	}
	if err := p.c.Keepalive(testCtx(t), p.cs); err != nil {
		t.Errorf("other connection harmed: %v", err)
	}
}

func TestRangeSet(t *testing.T) {
	var s rangeSet
	steps := []struct {
		a, b int64
		want string
	}{
		{200, 300, "[[200 300]]"},
		{0, 100, "[[0 100] [200 300]]"},
		{49, 150, "[[0 150] [200 300]]"},
		{150, 200, "[[0 300]]"},
		{400, 400, "[[0 300]]"},
		{300, 301, "[[0 301]]"},
	}
	for _, st := range steps {
		s.add(st.a, st.b)
		if got := fmtRanges(s.iv); got != st.want {
			t.Errorf("after add(%d,%d): %s, want %s", st.a, st.b, got, st.want)
		}
	}
	if !s.covers(0, 301) || s.covers(0, 302) || s.prefix() != 301 {
		t.Error("covers/prefix wrong")
	}
	var big rangeSet
	for i := int64(0); i < maxRanges; i++ {
		if !big.add(i*2, i*2+1) {
			t.Fatalf("refused interval %d", i)
		}
	}
	if big.add(maxRanges*2+5, maxRanges*2+6) {
		t.Error("more than maxRanges intervals accepted")
	}
	if !big.add(0, maxRanges*2) || len(big.iv) != 1 {
		t.Error("a covering interval did not merge everything")
	}
}

func fmtRanges(iv [][2]int64) string {
	var b strings.Builder
	b.WriteString("[")
	for i, r := range iv {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString("[" + itoa64(r[0]) + " " + itoa64(r[1]) + "]")
	}
	b.WriteString("]")
	return b.String()
}

func TestDialErrors(t *testing.T) {
	ctx := testCtx(t)
	for _, target := range []string{"", "http://x", "tcp://", "tcp://127.0.0.1", "msrp://h.invalid/x;ws", "msrp://bad uri;tcp"} {
		if c, err := Dial(ctx, target, Options{}); err == nil {
			c.Close()
			t.Errorf("Dial(%q) succeeded", target)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Dial(cctx, "tcp://127.0.0.1:1", Options{}); err == nil {
		t.Error("Dial with a cancelled context succeeded")
	}
}

func TestClosedConn(t *testing.T) {
	ctx := testCtx(t)
	p := newPair(t, Options{}, Options{})
	p.c.Close()
	if !errors.Is(p.c.Err(), ErrClosed) {
		t.Errorf("Err = %v", p.c.Err())
	}
	if _, err := p.c.Send(ctx, p.cs, "text/plain", strings.NewReader("x"), 1, SendOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send on closed: %v", err)
	}
	if err := p.c.Keepalive(ctx, p.cs); !errors.Is(err, ErrClosed) {
		t.Errorf("Keepalive on closed: %v", err)
	}
}
