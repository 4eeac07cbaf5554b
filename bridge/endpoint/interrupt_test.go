package endpoint

import (
	"bytes"
	"net"
	"runtime"
	"strings"
	"testing"

	"github.com/simplegw/simplegw/bridge/msrp"
)

// TestChunkInterruptedForWaitingTraffic: a chunk above 2048 octets carries "*" as
// range-end and is cut short when a response waits for the connection; the response goes
// out, and the rest of the body follows in a new chunk (RFC 4975 §7.1.1).
func TestChunkInterruptedForWaitingTraffic(t *testing.T) {
	ctx := testCtx(t)
	ours, theirs := net.Pipe()
	defer theirs.Close()
	c := newStreamConn(ours, "tcp", Options{}, newTable(), true, mustURI(t, "msrp://127.0.0.1:1;tcp"))
	defer c.Close()
	s := c.NewSession([]msrp.URI{mustURI(t, "msrp://127.0.0.1:2/peer1;tcp")})
	data := randomBytes(t, 1<<20)
	sent := make(chan error, 1)
	go func() {
		_, err := c.Send(ctx, s, "application/octet-stream", bytes.NewReader(data), int64(len(data)),
			SendOptions{ChunkSize: 1 << 20, FailureReport: msrp.ReportNo})
		sent <- err
	}()

	r := msrp.NewReader(theirs, 0, 0)
	part, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	m := part.Message
	if br := m.ByteRange; br == nil || br.Start != 1 || br.End != msrp.Unknown || br.Total != 1<<20 {
		t.Fatalf("first chunk Byte-Range %v, want 1-*/1048576", m.ByteRange)
	}
	var got bytes.Buffer
	got.Write(part.Body)

	// A response is queued while the chunk is on the wire; wait until its writer waits.
	resp := &msrp.Message{TransactionID: "resp1", Code: 200, Comment: "OK", ToPath: []msrp.URI{s.Local}, FromPath: s.ToPath}
	c.enqueue(resp.Bytes())
	for c.waiting.Load() == 0 {
		runtime.Gosched()
	}
	for !part.Final {
		if part, err = r.Next(); err != nil {
			t.Fatal(err)
		}
		got.Write(part.Body)
	}
	if m.Flag != msrp.FlagContinue || got.Len() >= len(data) || got.Len() < interruptAt {
		t.Fatalf("first chunk ended with %q after %d bytes, want '+' before the end", m.Flag, got.Len())
	}
	part, err = r.Next()
	if err != nil || part.Message.TransactionID != "resp1" || part.Message.Code != 200 {
		t.Fatalf("after the interrupted chunk: %+v %v, want the queued response", part.Message, err)
	}
	part, err = r.Next()
	if err != nil {
		t.Fatal(err)
	}
	m2 := part.Message
	if m2.Method != msrp.MethodSEND || m2.MessageID != m.MessageID || m2.ByteRange.Start != int64(got.Len())+1 || m2.TransactionID == m.TransactionID {
		t.Fatalf("continuation chunk %+v, want the same message from byte %d", m2, got.Len()+1)
	}
	got.Write(part.Body)
	for !part.Final {
		if part, err = r.Next(); err != nil {
			t.Fatal(err)
		}
		got.Write(part.Body)
	}
	if m2.Flag != msrp.FlagEnd || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("flag %q, %d bytes; want '$' and the whole message", m2.Flag, got.Len())
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

// TestAbortMidChunk: a failure response to a message whose chunk is being written ends
// that chunk with '#' (RFC 4975 §7.3.2).
func TestAbortMidChunk(t *testing.T) {
	ctx := testCtx(t)
	ours, theirs := net.Pipe()
	defer theirs.Close()
	c := newStreamConn(ours, "tcp", Options{}, newTable(), true, mustURI(t, "msrp://127.0.0.1:1;tcp"))
	defer c.Close()
	s := c.NewSession([]msrp.URI{mustURI(t, "msrp://127.0.0.1:2/peer1;tcp")})
	data := randomBytes(t, 1<<20)
	sent := make(chan error, 1)
	go func() {
		_, err := c.Send(ctx, s, "application/octet-stream", bytes.NewReader(data), int64(len(data)),
			SendOptions{ChunkSize: 256 << 10, FailureReport: msrp.ReportPartial})
		sent <- err
	}()
	r := msrp.NewReader(theirs, 0, 0)
	part, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	m := part.Message
	// Answer the chunk 413 while it is still being written: the response reaches the
	// reader through the other direction of the pipe.
	go theirs.Write(msrp.NewResponse(m, 413, "", s.ToPath[0]).Bytes())
	c.mu.Lock()
	out := c.sending[m.MessageID]
	c.mu.Unlock()
	for out.failed() == nil {
		runtime.Gosched()
	}
	for !part.Final {
		if part, err = r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if m.Flag != msrp.FlagAbort {
		t.Errorf("chunk ended with %q, want '#'", m.Flag)
	}
	if err := <-sent; Code(err) != 413 || !strings.Contains(err.Error(), "413") {
		t.Errorf("Send: %v, want 413", err)
	}
}
