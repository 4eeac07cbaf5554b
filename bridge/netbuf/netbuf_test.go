package netbuf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// pair returns the two ends of a TCP connection on 127.0.0.1.
func pair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := ln.Accept(); ch <- res{c, err} }()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { a.Close(); r.c.Close() })
	return a, r.c
}

// counting counts the writes that reach the connection under a Conn.
type counting struct {
	net.Conn
	writes atomic.Int32
}

func (c *counting) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func TestHeldWritesGoOutInOneWriteOnFlush(t *testing.T) {
	a, b := pair(t)
	cc := &counting{Conn: a}
	c := New(cc, Options{})
	c.Hold()
	for i := range 10 {
		if _, err := fmt.Fprintf(c, "chunk %d\r\n", i); err != nil {
			t.Fatal(err)
		}
	}
	c.Release()
	want := ""
	for i := range 10 {
		want += fmt.Sprintf("chunk %d\r\n", i)
	}
	if got := c.Buffered(); got != len(want) {
		t.Fatalf("Buffered = %d, want %d", got, len(want))
	}
	if n := cc.writes.Load(); n != 0 {
		t.Fatalf("%d writes reached the socket while held", n)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := cc.writes.Load(); n != 1 {
		t.Fatalf("Flush made %d writes, want 1", n)
	}
	if c.Buffered() != 0 || c.out != nil {
		t.Fatal("the gathering buffer was kept after Flush")
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("peer read %q, want %q", got, want)
	}
}

func TestUnheldWriteGoesOutAfterWhatWasGathered(t *testing.T) {
	a, b := pair(t)
	c := New(a, Options{})
	c.Hold()
	c.Write([]byte("first "))
	c.Release()
	// A writer that knows nothing of gathering (a WebSocket library's pong): at once, in order.
	if _, err := c.Write([]byte("second")); err != nil {
		t.Fatal(err)
	}
	if c.Buffered() != 0 {
		t.Fatal("bytes left gathered after an unheld write")
	}
	got := make([]byte, len("first second"))
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != "first second" {
		t.Fatalf("peer read %q", got)
	}
}

func TestWritePastGatherLimitGoesOutAtOnceInOrder(t *testing.T) {
	a, b := pair(t)
	c := New(a, Options{})
	small := bytes.Repeat([]byte("s"), 100)
	large := bytes.Repeat([]byte("L"), GatherLimit)
	c.Hold()
	c.Write(small)
	if err := c.WriteBuffers([]byte("<"), large, []byte(">")); err != nil {
		t.Fatal(err)
	}
	c.Release()
	if c.Buffered() != 0 {
		t.Fatalf("Buffered = %d after a write past the limit, want 0", c.Buffered())
	}
	want := append(append(append(append([]byte{}, small...), '<'), large...), '>')
	got := make([]byte, len(want))
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes arrived out of order")
	}
}

func TestConcurrentWritersKeepEachWriteWhole(t *testing.T) {
	a, b := pair(t)
	c := New(a, Options{})
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				line := fmt.Sprintf("w%d-%03d-%s\n", w, i, strings.Repeat("x", 50+i))
				c.Hold()
				err := c.WriteBuffers([]byte(line[:5]), []byte(line[5:]))
				c.Release()
				if err == nil && i%7 == 0 {
					err = c.Flush()
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	a.(*net.TCPConn).CloseWrite()
	all, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	next := make([]int, writers)
	for _, line := range strings.Split(strings.TrimSuffix(string(all), "\n"), "\n") {
		var w, i int
		var rest string
		if _, err := fmt.Sscanf(line, "w%d-%03d-%s", &w, &i, &rest); err != nil {
			t.Fatalf("torn line %q: %v", line, err)
		}
		if i != next[w] || rest != strings.Repeat("x", 50+i) {
			t.Fatalf("writer %d: got line %d (%d x's), want line %d", w, i, len(rest), next[w])
		}
		next[w]++
	}
	for w, n := range next {
		if n != each {
			t.Fatalf("writer %d: %d lines arrived, want %d", w, n, each)
		}
	}
}

func TestCloseUnblocksAStuckWriteAndErrorsStick(t *testing.T) {
	a, b := pair(t) // b never reads
	a.(*net.TCPConn).SetWriteBuffer(4096)
	b.(*net.TCPConn).SetReadBuffer(4096)
	c := New(a, Options{})
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		// Past GatherLimit, so it goes out at once and blocks on the full socket, holding
		// mu. Close must not need mu, or this test hangs.
		chunk := make([]byte, 4*GatherLimit)
		close(started)
		for {
			c.Hold()
			err := c.WriteBuffers(chunk)
			c.Release()
			if err != nil {
				done <- err
				return
			}
		}
	}()
	<-started
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if !errors.Is(err, net.ErrClosed) {
		t.Fatalf("the write ended with %v, want net.ErrClosed", err)
	}
	if _, err2 := c.Write([]byte("x")); err2 == nil {
		t.Fatal("a write after the error succeeded")
	}
	if err := c.Flush(); err == nil {
		t.Fatal("Flush after the error succeeded")
	}
}

func TestBorrowedReads(t *testing.T) {
	a, b := pair(t)
	c := New(b, Options{Buffered: []byte("pre|"), BorrowReads: true})
	// A burst far larger than the 16-byte buffer of the reader above us.
	burst := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	go func() { a.Write(burst); a.(*net.TCPConn).CloseWrite() }()
	var got bytes.Buffer
	p := make([]byte, 16)
	reads := 0
	for {
		n, err := c.Read(p)
		got.Write(p[:n])
		reads++
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	want := append([]byte("pre|"), burst...)
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("read %d bytes, want %d, or out of order", got.Len(), len(want))
	}
	// 16-byte reads of 64 KiB are 4096 Reads; the borrowed buffer turns them into a few
	// system calls.
	if c.reads > 64 {
		t.Fatalf("%d read system calls for %d Reads: the buffer was not borrowed", c.reads, reads)
	}
	if c.in != nil {
		t.Fatal("the borrowed buffer is still held at end of stream")
	}
}

func TestIdleReaderHoldsNoBuffer(t *testing.T) {
	a, b := pair(t)
	c := New(b, Options{BorrowReads: true})
	msg := bytes.Repeat([]byte("m"), 1000)
	for range 3 {
		if _, err := a.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		for n := 0; n < len(msg); {
			k, err := c.Read(got[n:min(n+16, len(msg))])
			if err != nil {
				t.Fatal(err)
			}
			n += k
		}
		if !bytes.Equal(got, msg) {
			t.Fatal("message garbled")
		}
		// Everything the peer sent has been read: before waiting again the reader must
		// hold no borrowed buffer (an idle connection costs no read buffer).
		if c.in != nil && c.r == c.w && !c.more {
			t.Fatal("drained buffer kept")
		}
	}
}

// BeforeRead runs when the reader would wait, not while input is at hand: a relay keeps
// gathering while it has chunks to handle and flushes once, before it waits.
func TestBeforeReadRunsOnlyWhenTheReaderWouldWait(t *testing.T) {
	for _, borrow := range []bool{false, true} {
		a, b := pair(t)
		waits := 0
		var c *Conn
		c = New(b, Options{BorrowReads: borrow, BeforeRead: func() {
			waits++
			// The flush a relay makes here; then the peer's next burst arrives.
			if waits == 1 {
				a.Write([]byte("second burst"))
			}
		}})
		if _, err := a.Write([]byte("first burst")); err != nil {
			t.Fatal(err)
		}
		readAll := func(want string) {
			t.Helper()
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Fatalf("read %q, want %q", got, want)
			}
		}
		// The first burst is waiting in the socket: no wait, so no hook. (One read may
		// return part of it; the rest is waiting too.)
		readAll("first burst")
		if waits != 0 {
			t.Fatalf("borrow=%v: BeforeRead ran %d times while input was waiting", borrow, waits)
		}
		readAll("second burst")
		if waits != 1 {
			t.Fatalf("borrow=%v: BeforeRead ran %d times, want once (before the wait)", borrow, waits)
		}
	}
}

func TestEndOfStreamAndDeadlines(t *testing.T) {
	a, b := pair(t)
	c := New(b, Options{BorrowReads: true, BeforeRead: func() {}})
	a.Write([]byte("x"))
	a.Close()
	buf := make([]byte, 8)
	n, err := c.Read(buf)
	if n != 1 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("Read at end = %v, want io.EOF", err)
	}
	a2, b2 := pair(t)
	_ = a2
	c2 := New(b2, Options{BeforeRead: func() {}})
	c2.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = c2.Read(buf)
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("Read past the deadline = %v, want a timeout", err)
	}
}

// Idle, WaitReadable and HandOverReads: a server parks an idle connection's reader outside
// the protocol library, and wakes it when bytes arrive.
func TestIdleWaitReadableAndHandOver(t *testing.T) {
	a, b := pair(t)
	c := New(b, Options{BorrowReads: true})
	if !c.Idle() {
		t.Fatal("a fresh connection with nothing read is not Idle")
	}
	woke := make(chan error, 1)
	go func() { woke <- c.WaitReadable() }()
	if _, err := a.Write([]byte("hello, more to come")); err != nil {
		t.Fatal(err)
	}
	if err := <-woke; err != nil {
		t.Fatalf("WaitReadable: %v", err)
	}
	if c.Idle() {
		t.Fatal("Idle after WaitReadable saw bytes")
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
	if c.Idle() {
		t.Fatal("Idle with bytes left in the borrowed buffer")
	}
	rest := make([]byte, len(", more to come"))
	if _, err := io.ReadFull(c, rest); err != nil {
		t.Fatal(err)
	}
	if !c.Idle() {
		t.Fatal("not Idle once everything was read")
	}
	c.HandOverReads()
	if c.Idle() {
		t.Fatal("Idle after HandOverReads")
	}
}

func TestWaitReadableEndsWhenTheConnectionCloses(t *testing.T) {
	_, b := pair(t)
	c := New(b, Options{})
	woke := make(chan error, 1)
	go func() { woke <- c.WaitReadable() }()
	c.Close()
	if err := <-woke; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WaitReadable after Close = %v, want net.ErrClosed", err)
	}
}

func TestWaitReadableSeesEndOfStream(t *testing.T) {
	a, b := pair(t)
	c := New(b, Options{})
	woke := make(chan error, 1)
	go func() { woke <- c.WaitReadable() }()
	a.Close()
	if err := <-woke; err != nil {
		t.Fatalf("WaitReadable at end of stream = %v, want nil (the read reports it)", err)
	}
	if _, err := c.Read(make([]byte, 4)); err != io.EOF {
		t.Fatalf("Read = %v, want io.EOF", err)
	}
}

// The relay's BeforeRead flushes, and a flush that fails closes the connection: Close from
// the hook must not wait for the read that called it.
func TestCloseFromBeforeReadDoesNotHang(t *testing.T) {
	a, _ := pair(t)
	var c *Conn
	c = New(a, Options{BeforeRead: func() { c.Close() }})
	done := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 8)); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Close in BeforeRead = %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close inside BeforeRead hangs")
	}
}

// A reset reads like net.Conn.Read reports it: a *net.OpError around an *os.SyscallError.
func TestResetIsReportedLikeNetConn(t *testing.T) {
	a, b := pair(t)
	c := New(b, Options{BeforeRead: func() {}})
	a.(*net.TCPConn).SetLinger(0)
	a.Close() // RST
	var err error
	for err == nil {
		_, err = c.Read(make([]byte, 8))
	}
	var oe *net.OpError
	var se *os.SyscallError
	if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &oe) || !errors.As(err, &se) {
		t.Fatalf("Read after a reset = %#v, want a *net.OpError around an *os.SyscallError for ECONNRESET", err)
	}
}
