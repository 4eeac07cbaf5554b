package endpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/simplegw/simplegw/bridge/msrp"
)

// Defaults for [SendOptions].
const (
	DefaultChunkSize = 64 << 10
	DefaultWindow    = 8
)

// SendOptions tune one [Conn.Send].
type SendOptions struct {
	// ChunkSize is the largest body of one chunk (default DefaultChunkSize). Over TCP/TLS a
	// chunk may still be cut shorter to let other traffic pass (RFC 4975 §7.1.1).
	ChunkSize int
	// Window is how many chunks may await their 200 at once (default DefaultWindow). It
	// applies with Failure-Report "yes" only: otherwise no 200 comes back.
	Window int
	// SuccessReport asks for success REPORTs (Success-Report: yes); Send then returns only
	// once REPORTs cover every byte (RFC 4975 §7.1.3).
	SuccessReport bool
	// FailureReport is "yes" (the default, written as no header), "partial" or "no" (RFC
	// 4975 §7.1.1). With "yes" Send waits for the 200 of every chunk.
	FailureReport string
	// MessageID is the Message-ID; empty picks a random one (RFC 4975 §7.1.1).
	MessageID string
	// Fields are MIME headers for every chunk (Content-Disposition, …), written before
	// Content-Type.
	Fields []msrp.Field
	// ResponseTimeout is how long to wait for a chunk's response after its last byte
	// (default DefaultResponseTimeout).
	ResponseTimeout time.Duration
	// ReportTimeout bounds the wait for success REPORTs once every chunk is answered; 0
	// waits as long as ctx allows (RFC 4975 §7.1.1 leaves this timer to the application).
	ReportTimeout time.Duration
}

// Result describes what Send did.
type Result struct {
	MessageID    string
	Bytes        int64 // body bytes written
	Transactions int   // SEND requests written (chunks, counting interrupted ones)
	Reported     bool  // success REPORTs covered the whole message
}

// outgoing is a message being sent; its fields after mu are guarded by mu, and wake is
// poked whenever they change.
type outgoing struct {
	c       *Conn
	s       *Session
	id      string
	ctype   string
	fields  []msrp.Field
	fr      string // effective Failure-Report
	sr      bool
	window  int // 0: no responses expected
	timeout time.Duration
	wbuf    []byte // encoding buffer, used by the holder of the write token
	// abortSent is set when a chunk was ended with '#'; Send's goroutine only.
	abortSent bool

	mu       sync.Mutex
	inflight int
	err      error
	acked    rangeSet
	all      bool // a success REPORT without a range covered the whole message
	reported bool // at least one success REPORT arrived
	tids     []string
	wake     chan struct{}
}

// Send sends one message on s: size bytes read from body (size < 0: until EOF, with "*" as
// total until the last chunk), in chunks of at most opts.ChunkSize, each with Message-ID,
// Byte-Range and Content-Type (RFC 4975 §7.1.1). The body is streamed: one chunk is held in
// memory at a time.
//
// With Failure-Report "yes" it returns when every chunk has its 200; with SuccessReport,
// when success REPORTs cover the message. A non-200 response or a failure REPORT stops the
// message and is returned as a *StatusError (a chunk being written is ended with '#', RFC
// 4975 §7.3.2); a missing response gives ErrNoResponse. A failure REPORT that arrives after
// Send returned goes to Options.OnReport (a relay that answered 200 may report later, RFC
// 4976 §6.4.1). If ctx ends or body fails mid-message the message is aborted with '#'.
// The Result is returned with the error too, counting what was written.
func (c *Conn) Send(ctx context.Context, s *Session, contentType string, body io.Reader, size int64, opts SendOptions) (*Result, error) {
	if s == nil || len(s.ToPath) == 0 || s.Local.Transport == "" {
		return nil, errors.New("endpoint: session needs Local and ToPath")
	}
	if strings.IndexByte(contentType, '/') <= 0 || strings.ContainsAny(contentType, "\r\n") {
		return nil, fmt.Errorf("endpoint: bad content type %q", contentType)
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.ResponseTimeout <= 0 {
		opts.ResponseTimeout = DefaultResponseTimeout
	}
	out := &outgoing{c: c, s: s, id: opts.MessageID, ctype: contentType, fields: opts.Fields,
		fr: opts.FailureReport, sr: opts.SuccessReport, timeout: opts.ResponseTimeout, wake: make(chan struct{}, 1)}
	switch out.fr {
	case "":
		out.fr = msrp.ReportYes
	case msrp.ReportYes, msrp.ReportNo, msrp.ReportPartial:
	default:
		return nil, fmt.Errorf("endpoint: Failure-Report must be yes, no or partial, not %q", out.fr)
	}
	if out.fr == msrp.ReportYes {
		out.window = opts.Window
	}
	if out.id == "" {
		out.id = msrp.NewIdent()
	}
	c.mu.Lock()
	if c.err != nil {
		err := c.closeErrLocked()
		c.mu.Unlock()
		return nil, err
	}
	if c.sending[out.id] != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("endpoint: message %s is already being sent", out.id)
	}
	c.sending[out.id] = out
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.sending, out.id)
		c.mu.Unlock()
		out.mu.Lock()
		tids := out.tids
		out.mu.Unlock()
		c.forget(tids)
	}()

	res := &Result{MessageID: out.id}
	bufSize := opts.ChunkSize
	if size >= 0 && size < int64(bufSize) {
		bufSize = int(size)
	}
	buf := make([]byte, bufSize)
	var off int64
	var carry []byte // one byte read ahead to learn whether a full chunk is the last
	for {
		n := copy(buf, carry)
		carry = carry[:0]
		want := len(buf)
		if size >= 0 {
			want = int(min(int64(len(buf)), size-off))
		}
		var rerr error
		if n < want {
			var k int
			k, rerr = io.ReadFull(body, buf[n:want])
			n += k
		}
		last := false
		switch {
		case rerr == nil && size >= 0:
			last = off+int64(n) == size
		case rerr == nil:
			var one [1]byte
			k, err := io.ReadFull(body, one[:])
			switch {
			case k == 1:
				carry = append(carry, one[0])
			case err == io.EOF:
				last = true
			default:
				rerr = err
			}
		case errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF):
			if size >= 0 {
				rerr = fmt.Errorf("endpoint: body ended after %d of %d bytes", off+int64(n), size)
			} else {
				rerr, last = nil, true
			}
		}
		if rerr != nil {
			if off > 0 {
				c.abortMessage(out, off)
			}
			return res, rerr
		}
		total := size
		if size < 0 {
			total = msrp.Unknown
			if last {
				total = off + int64(n)
			}
		}
		err := c.sendChunk(ctx, out, buf[:n], off, total, last, res)
		if err != nil {
			// Abandoned locally (ctx) between chunks: tell the receiver with '#'. A chunk
			// cut short has its '#' already; a refused message needs none.
			if sent := res.Bytes; ctx.Err() != nil && !out.abortSent && sent > 0 && c.Err() == nil {
				c.abortMessage(out, sent)
			}
			return res, err
		}
		off += int64(n)
		if last {
			break
		}
	}
	if out.window > 0 {
		if err := out.wait(ctx, func() bool { return out.inflight == 0 }); err != nil {
			return res, err
		}
	}
	if out.sr {
		wctx := ctx
		if opts.ReportTimeout > 0 {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, opts.ReportTimeout)
			defer cancel()
		}
		if err := out.wait(wctx, func() bool { return out.reported && (out.all || out.acked.covers(0, off)) }); err != nil {
			return res, err
		}
		res.Reported = true
	}
	out.mu.Lock()
	err := out.err
	out.mu.Unlock()
	return res, err
}

// sendChunk sends data, the bytes at offset off of the message, as one chunk — or, over
// TCP/TLS, as several when it is interrupted to let waiting traffic through.
func (c *Conn) sendChunk(ctx context.Context, out *outgoing, data []byte, off, total int64, last bool, res *Result) error {
	for first := true; first || len(data) > 0; first = false {
		if err := out.acquire(ctx); err != nil {
			return err
		}
		if err := c.lockWrite(ctx); err != nil {
			out.release()
			return err
		}
		tid := msrp.NewTransactionID(data)
		// RFC 4975 §7.1.1: a chunk above 2048 octets must be interruptible, and so carries
		// "*" as range-end. A WebSocket message is never interrupted (RFC 7977 §5.1).
		end := off + int64(len(data))
		if c.ws == nil && len(data) > interruptAt {
			end = msrp.Unknown
		}
		m := &msrp.Message{TransactionID: tid, Method: msrp.MethodSEND, ToPath: out.s.ToPath,
			FromPath: []msrp.URI{out.s.Local}, MessageID: out.id,
			ByteRange: &msrp.ByteRange{Start: off + 1, End: end, Total: total},
			Fields:    out.fields, ContentType: out.ctype, HasBody: true}
		if out.sr {
			m.SuccessReport = msrp.ReportYes
		}
		if out.fr != msrp.ReportYes {
			m.FailureReport = out.fr
		}
		if out.fr != msrp.ReportNo {
			if err := c.register(tid, out.onResponse); err != nil {
				c.unlockWrite()
				out.release()
				return err
			}
			out.mu.Lock()
			out.tids = append(out.tids, tid)
			out.mu.Unlock()
		}
		written, abortErr, werr := 0, error(nil), error(nil)
		flag := msrp.FlagContinue
		if c.ws != nil {
			b := m.AppendHead(out.wbuf[:0])
			b = append(b, data...)
			if last {
				flag = msrp.FlagEnd
			}
			b = msrp.AppendEndLine(b, tid, flag, true)
			out.wbuf = b[:0]
			werr = c.writeMessage(b)
			written = len(data)
		} else {
			out.wbuf = m.AppendHead(out.wbuf[:0])
			werr = c.writeRaw(out.wbuf)
			for werr == nil && written < len(data) {
				n := min(writePiece, len(data)-written)
				werr = c.writeRaw(data[written : written+n])
				written += n
				if werr != nil || written == len(data) {
					break
				}
				if abortErr = ctx.Err(); abortErr != nil {
					break
				}
				if abortErr = out.failed(); abortErr != nil {
					break
				}
				if written >= interruptAt && c.waiting.Load() > 0 {
					break // interrupted: the rest goes in a new chunk
				}
			}
			switch {
			case abortErr != nil:
				flag = msrp.FlagAbort
				out.abortSent = true
			case written == len(data) && last:
				flag = msrp.FlagEnd
			}
			if werr == nil {
				werr = c.writeRaw(msrp.AppendEndLine(nil, tid, flag, true))
			}
			if werr == nil {
				werr = c.flush()
			}
		}
		c.unlockWrite()
		res.Transactions++
		res.Bytes += int64(written)
		if werr != nil {
			return werr
		}
		if out.fr == msrp.ReportYes {
			c.arm(tid, out.timeout)
		}
		off += int64(written)
		data = data[written:]
		if abortErr != nil {
			return abortErr
		}
	}
	return nil
}

// abortMessage ends a message that cannot be completed with an empty '#' chunk (RFC 4975
// §7.1), so that the receiver drops what it has. Its response is not awaited.
func (c *Conn) abortMessage(out *outgoing, off int64) {
	m := &msrp.Message{TransactionID: msrp.NewIdent(), Method: msrp.MethodSEND, ToPath: out.s.ToPath,
		FromPath: []msrp.URI{out.s.Local}, MessageID: out.id,
		ByteRange:   &msrp.ByteRange{Start: off + 1, End: off, Total: msrp.Unknown},
		ContentType: out.ctype, HasBody: true, Flag: msrp.FlagAbort}
	if out.fr != msrp.ReportYes {
		m.FailureReport = out.fr
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.WriteTimeout)
	defer cancel()
	c.writeNow(ctx, m.Bytes())
}

func (o *outgoing) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outgoing) failed() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// wait waits until cond (called with o.mu held) is true, the message fails, ctx ends or
// the connection ends.
func (o *outgoing) wait(ctx context.Context, cond func() bool) error {
	for {
		o.mu.Lock()
		err, ok := o.err, o.err == nil && cond()
		o.mu.Unlock()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-o.wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-o.c.done:
			return o.c.closeErr()
		}
	}
}

// acquire takes a window slot (Failure-Report "yes" only).
func (o *outgoing) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if o.window == 0 {
		return o.failed()
	}
	return o.wait(ctx, func() bool {
		if o.inflight < o.window {
			o.inflight++
			return true
		}
		return false
	})
}

func (o *outgoing) release() {
	if o.window == 0 {
		return
	}
	o.mu.Lock()
	o.inflight--
	o.mu.Unlock()
	o.poke()
}

// onResponse completes one chunk's transaction.
func (o *outgoing) onResponse(resp *msrp.Message, err error) {
	o.mu.Lock()
	if o.window > 0 {
		o.inflight--
	}
	if o.err == nil {
		switch {
		case err != nil:
			o.err = err
		case resp.Code != 200:
			o.err = statusFromResponse(resp)
		}
	}
	o.mu.Unlock()
	o.poke()
}

// report takes a REPORT for this message (RFC 4975 §7.3.2).
func (o *outgoing) report(m *msrp.Message) {
	st := m.Status
	if st == nil || st.Namespace != 0 {
		return
	}
	o.mu.Lock()
	if st.Code == 200 {
		o.reported = true
		br := m.ByteRange
		switch {
		case br == nil:
			o.all = true
		case br.End != msrp.Unknown:
			o.acked.add(br.Start-1, br.End)
		case br.Total != msrp.Unknown:
			o.acked.add(br.Start-1, br.Total)
		default:
			o.all = true
		}
	} else if o.err == nil {
		h := *m
		h.Body = nil
		o.err = &StatusError{Code: st.Code, Comment: st.Comment, Report: true, Message: &h}
	}
	o.mu.Unlock()
	o.poke()
}
