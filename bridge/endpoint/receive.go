package endpoint

import (
	"errors"
	"fmt"
	"io"

	"github.com/simplegw/simplegw/bridge/msrp"
)

// maxRanges bounds the disjoint byte ranges tracked for one incoming message; a sender
// scattering more tiny chunks than this gets 413.
const maxRanges = 1024

// Incoming is a message received on a session of ours (RFC 4975 §7.3.1), delivered to
// Options.OnMessage once it is complete or has failed.
type Incoming struct {
	Conn *Conn
	// Local is our session URI the message was addressed to.
	Local msrp.URI
	// FromPath is the From-Path of its last chunk: the way back to the sender, whose own
	// URI is the last one.
	FromPath  []msrp.URI
	MessageID string
	// ContentType is the Content-Type of the first chunk received.
	ContentType string
	// Header is the header of the first chunk received (Fields holds Content-Disposition
	// and other MIME headers); its Body is nil.
	Header *msrp.Message
	// Size is the length of the message: the end of its '$' chunk (RFC 4975 §7.3.1), or
	// for a failed message the bytes received so far.
	Size int64
	// Body is the message when it was kept in memory; nil when OpenSink gave a sink.
	Body []byte
	// Sink is what OpenSink returned, if anything.
	Sink io.WriterAt
	// Err is nil for a complete message; otherwise ErrAborted, the sink's error, or an
	// error wrapping ErrClosed for a message cut off by the connection's end.
	Err error
}

// Reply returns the session to answer the message on: our URI, and its From-Path as
// To-Path.
func (m *Incoming) Reply() *Session {
	return &Session{Local: m.Local, ToPath: append([]msrp.URI(nil), m.FromPath...)}
}

// inMessage is the reassembly state of one incoming message (RFC 4975 §7.3.1: a "virtual
// buffer ... keeping track of which bytes have been received").
type inMessage struct {
	key       string
	in        Incoming
	mem       *memSink
	have      rangeSet
	total     int64 // -1 until the '$' chunk arrives
	report    bool  // some chunk asked for a success report
	failed    int   // non-zero: the message was refused with this code
	delivered bool  // OnMessage has been called
}

// inChunk is one SEND with a body being received.
type inChunk struct {
	msg    *inMessage
	m      *msrp.Message
	base   int64 // offset of the chunk's first byte in the message
	n      int64 // body bytes received
	failed int   // non-zero: answer the chunk with this code
	reason string
	broken bool // cut off before its end-line
}

// beginChunk starts receiving a SEND with a body addressed to local. It returns nil when
// the chunk has been answered already.
func (c *Conn) beginChunk(m *msrp.Message, local msrp.URI) *inChunk {
	if m.MessageID == "" {
		c.respond(m, 400, "Message-ID missing", local)
		return nil
	}
	var base int64
	if m.ByteRange != nil {
		base = m.ByteRange.Start - 1
	}
	key := local.SessionID + " " + m.MessageID
	im := c.inbox[key]
	if im == nil {
		if len(c.inbox) >= c.opts.MaxPending {
			c.respond(m, 413, "too many messages in progress", local)
			return nil
		}
		im = &inMessage{key: key, total: -1}
		hdr := *m
		hdr.Body = nil
		im.in = Incoming{Conn: c, Local: local, MessageID: m.MessageID, ContentType: m.ContentType, Header: &hdr}
		c.inbox[key] = im
		if code, why := c.openSink(im, m); code != 0 {
			im.failed = code
			c.respond(m, code, why, local)
			c.deliver(im, fmt.Errorf("refused with %d %s", code, why))
			c.closeFailed(im, m)
			return nil
		}
	} else if im.failed != 0 {
		// RFC 4975 §10.5: after a 413 the sender must stop; repeat the refusal.
		c.respond(m, im.failed, "", local)
		c.closeFailed(im, m)
		return nil
	}
	return &inChunk{msg: im, m: m, base: base}
}

// openSink asks the application where the message goes.
func (c *Conn) openSink(im *inMessage, m *msrp.Message) (int, string) {
	if br := m.ByteRange; br != nil && br.Total != msrp.Unknown && c.opts.MaxMessageSize > 0 && br.Total > c.opts.MaxMessageSize {
		return 413, "message larger than " + itoa64(c.opts.MaxMessageSize) + " bytes"
	}
	if c.opts.OpenSink != nil {
		var sink io.WriterAt
		var err error
		c.callback(func() { sink, err = c.opts.OpenSink(im.in.Header) })
		if err != nil {
			code := Code(err)
			if code < 400 || code > 999 {
				code = 413
			}
			return code, msrp.ReasonPhrase(code)
		}
		if sink != nil {
			im.in.Sink = sink
			return 0, ""
		}
	}
	if br := m.ByteRange; br != nil && br.Total != msrp.Unknown && br.Total > c.opts.MaxInMemory {
		return 413, "message larger than " + itoa64(c.opts.MaxInMemory) + " bytes"
	}
	im.mem = &memSink{limit: c.opts.MaxInMemory}
	return 0, ""
}

// closeFailed forgets a refused message once its last chunk has come.
func (c *Conn) closeFailed(im *inMessage, m *msrp.Message) {
	if m.Flag != msrp.FlagContinue {
		delete(c.inbox, im.key)
	}
}

// writeChunkPiece places a piece of a chunk's body at its offset in the message.
func (c *Conn) writeChunkPiece(ch *inChunk, b []byte, off int64) {
	if ch.failed != 0 {
		return
	}
	pos := ch.base + off
	end := pos + int64(len(b))
	if max := c.opts.MaxMessageSize; max > 0 && end > max {
		ch.failed, ch.reason = 413, "message larger than "+itoa64(max)+" bytes"
		return
	}
	im := ch.msg
	var err error
	if im.mem != nil {
		_, err = im.mem.WriteAt(b, pos)
		if err != nil {
			ch.failed, ch.reason = 413, err.Error()
			return
		}
	} else {
		_, err = im.in.Sink.WriteAt(b, pos)
		if err != nil {
			ch.failed, ch.reason = 413, "cannot store the message"
			im.in.Err = fmt.Errorf("endpoint: sink: %w", err)
			return
		}
	}
	ch.n = off + int64(len(b))
}

// endChunk finishes a chunk: records its range, answers it (RFC 4975 §7.2), and delivers
// the message when every byte up to the end of its '$' chunk has arrived (§7.3.1).
func (c *Conn) endChunk(ch *inChunk) {
	im, m := ch.msg, ch.m
	if ch.broken {
		return // the connection ended or the chunk was malformed; failInbox reports it
	}
	if ch.failed != 0 {
		im.failed = ch.failed
		c.respond(m, ch.failed, ch.reason, im.in.Local)
		err := im.in.Err
		if err == nil {
			err = fmt.Errorf("endpoint: refused with %d: %s", ch.failed, ch.reason)
		}
		c.deliver(im, err)
		c.closeFailed(im, m)
		return
	}
	if ch.n > 0 {
		if !im.have.add(ch.base, ch.base+ch.n) {
			im.failed = 413
			c.respond(m, 413, "too many disjoint chunks", im.in.Local)
			c.deliver(im, errors.New("endpoint: too many disjoint chunks"))
			c.closeFailed(im, m)
			return
		}
	}
	if m.WantsSuccessReport() {
		im.report = true
	}
	im.in.FromPath = m.FromPath
	c.respond(m, 200, "", im.in.Local)
	switch m.Flag {
	case msrp.FlagAbort:
		delete(c.inbox, im.key)
		c.deliver(im, ErrAborted)
		return
	case msrp.FlagEnd:
		im.total = ch.base + ch.n
	}
	if im.total < 0 || !im.have.covers(0, im.total) {
		return
	}
	delete(c.inbox, im.key)
	im.in.Size = im.total
	if im.mem != nil {
		body := im.mem.b
		if body == nil {
			body = []byte{}
		}
		im.in.Body = body[:im.total:im.total]
	}
	if im.report {
		// RFC 4975 §7.1.3: one success report covering the whole message.
		rep := &msrp.Message{
			TransactionID: msrp.NewIdent(), Method: msrp.MethodREPORT,
			ToPath: m.FromPath, FromPath: []msrp.URI{im.in.Local}, MessageID: im.in.MessageID,
			ByteRange: &msrp.ByteRange{Start: 1, End: im.total, Total: im.total},
			Status:    &msrp.Status{Code: 200, Comment: "OK"},
		}
		c.enqueue(rep.Bytes())
	}
	c.deliver(im, nil)
}

// deliver hands a finished or failed message to the application, once.
func (c *Conn) deliver(im *inMessage, err error) {
	if im.delivered {
		return
	}
	im.delivered = true
	im.in.Err = err
	if err != nil {
		im.in.Size = im.have.prefix()
		im.in.Body = nil
	}
	in := im.in
	if c.opts.OnMessage != nil {
		c.callback(func() { c.opts.OnMessage(&in) })
	}
}

// failInbox reports every message left incomplete when the connection ended.
func (c *Conn) failInbox() {
	err := c.closeErr()
	for key, im := range c.inbox {
		delete(c.inbox, key)
		c.deliver(im, err)
	}
}

// callback runs an application callback, noting it so that Close does not wait for it.
func (c *Conn) callback(f func()) {
	c.inCallback.Store(true)
	defer c.inCallback.Store(false)
	f()
}

// memSink keeps a message in memory, up to limit bytes.
type memSink struct {
	b     []byte
	limit int64
}

func (s *memSink) WriteAt(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	if off < 0 || end > s.limit {
		return 0, errors.New("message larger than " + itoa64(s.limit) + " bytes")
	}
	if int64(len(s.b)) < end {
		if int64(cap(s.b)) >= end {
			s.b = s.b[:end]
		} else {
			nb := make([]byte, end, min(max(end, 2*int64(cap(s.b))), s.limit))
			copy(nb, s.b)
			s.b = nb
		}
	}
	copy(s.b[off:], p)
	return len(p), nil
}

// rangeSet is a set of byte offsets kept as sorted, disjoint, non-adjacent half-open
// intervals [start, end).
type rangeSet struct {
	iv [][2]int64
}

// add inserts [a, b); it reports false when the set would exceed maxRanges intervals.
func (s *rangeSet) add(a, b int64) bool {
	if a >= b {
		return true
	}
	// Find the first interval that ends at or after a, and the first that starts after b.
	i := 0
	for i < len(s.iv) && s.iv[i][1] < a {
		i++
	}
	j := i
	for j < len(s.iv) && s.iv[j][0] <= b {
		j++
	}
	if i == j {
		if len(s.iv) >= maxRanges {
			return false
		}
		s.iv = append(s.iv, [2]int64{})
		copy(s.iv[i+1:], s.iv[i:])
		s.iv[i] = [2]int64{a, b}
		return true
	}
	na, nb := min(a, s.iv[i][0]), max(b, s.iv[j-1][1])
	s.iv[i] = [2]int64{na, nb}
	s.iv = append(s.iv[:i+1], s.iv[j:]...)
	return true
}

// covers reports whether every offset in [a, b) is in the set.
func (s *rangeSet) covers(a, b int64) bool {
	if a >= b {
		return true
	}
	for _, r := range s.iv {
		if r[0] <= a && b <= r[1] {
			return true
		}
	}
	return false
}

// prefix returns how many bytes from offset 0 are in the set.
func (s *rangeSet) prefix() int64 {
	if len(s.iv) > 0 && s.iv[0][0] == 0 {
		return s.iv[0][1]
	}
	return 0
}

func itoa64(n int64) string { return fmt.Sprint(n) }
