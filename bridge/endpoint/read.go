package endpoint

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/coder/websocket"

	"github.com/simplegw/simplegw/bridge/msrp"
)

// readLoop reads and dispatches until the connection ends.
func (c *Conn) readLoop() {
	var err error
	if c.ws != nil {
		err = c.readWS()
	} else {
		err = c.readStream()
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.EOF
	}
	select {
	case <-c.done:
	default:
		if errors.Is(err, io.EOF) {
			c.shutdown(fmt.Errorf("%w: closed by the peer", ErrClosed))
		} else {
			c.shutdown(err)
		}
	}
	c.failInbox()
	close(c.readDone)
}

func (c *Conn) readStream() error {
	r := msrp.NewReader(c.nc, c.opts.PieceSize, c.opts.MaxHeaderBytes)
	var rx *rxState
	for {
		p, err := r.Next()
		if err != nil {
			var pe *msrp.ParseError
			if errors.As(err, &pe) {
				if rx != nil && rx.m.TransactionID == pe.TransactionID {
					c.abandon(rx)
				}
				rx = nil
				c.answerMalformed(pe)
				continue
			}
			if rx != nil {
				c.abandon(rx)
			}
			select {
			case <-c.done:
				return nil
			default:
			}
			return err
		}
		if p.Offset == 0 {
			rx = c.begin(p.Message)
		}
		if rx == nil {
			continue // a response with a body: ignored
		}
		c.piece(rx, p.Body, p.Offset)
		if p.Final {
			c.end(rx)
			rx = nil
		}
	}
}

func (c *Conn) readWS() error {
	for {
		_, b, err := c.ws.Read(context.Background())
		if err != nil {
			select {
			case <-c.done:
				return nil
			default:
			}
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure || websocket.CloseStatus(err) == websocket.StatusGoingAway {
				return io.EOF
			}
			return err
		}
		m, err := msrp.Parse(b)
		if err != nil {
			var pe *msrp.ParseError
			if errors.As(err, &pe) {
				c.answerMalformed(pe)
				continue
			}
			// RFC 7977 §5.1: every WebSocket message is one MSRP chunk; one that is not
			// is a protocol error.
			return fmt.Errorf("bad WebSocket message: %w", err)
		}
		body := m.Body
		m.Body = nil
		rx := c.begin(m)
		if rx == nil {
			continue
		}
		c.piece(rx, body, 0)
		c.end(rx)
	}
}

// answerMalformed answers a request that could be framed but not parsed (RFC 4975 §7.2).
// Its paths are unknown, so the response names our own device URI in both paths; the
// previous hop matches responses by transaction id. REPORTs and responses get nothing.
func (c *Conn) answerMalformed(pe *msrp.ParseError) {
	if pe.TransactionID == "" || pe.Method == "" || pe.Method == msrp.MethodREPORT {
		return
	}
	resp := &msrp.Message{TransactionID: pe.TransactionID, Code: pe.Code, Comment: msrp.ReasonPhrase(pe.Code),
		ToPath: []msrp.URI{c.device}, FromPath: []msrp.URI{c.device}, Flag: msrp.FlagEnd}
	c.enqueue(resp.Bytes())
}

// respond answers req with code from local, as RFC 4975 §7.2 and §7.1.4 allow: never a
// REPORT, nothing with Failure-Report "no", no 200 with "partial".
func (c *Conn) respond(req *msrp.Message, code int, comment string, local msrp.URI) {
	if req.Method == msrp.MethodREPORT {
		return
	}
	switch req.FailureReportOrDefault() {
	case msrp.ReportNo:
		return
	case msrp.ReportPartial:
		if code == 200 {
			return
		}
	}
	c.enqueue(msrp.NewResponse(req, code, comment, local).Bytes())
}

// rxState is the message being read: its header, and for a SEND with a body the chunk
// being received; for other requests their (bounded) body.
type rxState struct {
	m     *msrp.Message
	local msrp.URI
	chunk *inChunk
	body  []byte
	skip  bool // already answered; the body is discarded
}

// begin handles the header of a newly arrived message.
func (c *Conn) begin(m *msrp.Message) *rxState {
	if !m.IsRequest() {
		c.finish(m.TransactionID, m, nil)
		return nil
	}
	rx := &rxState{m: m}
	local, code := c.target(m)
	switch {
	case m.Method == msrp.MethodREPORT:
		rx.skip = code != 0 // RFC 4975 §7.3: ignored; never answered
		rx.local = local
		return rx
	case code != 0:
		c.respond(m, code, "", m.ToPath[0])
		rx.skip = true
		return rx
	}
	rx.local = local
	if m.Method == msrp.MethodSEND && m.HasBody {
		rx.chunk = c.beginChunk(m, local)
		if rx.chunk == nil {
			rx.skip = true
		}
	}
	return rx
}

// target checks the To-Path of a request (RFC 4975 §7.3): exactly one URI, naming a
// session of ours free to use on this connection. It returns 481 or 506 otherwise.
func (c *Conn) target(m *msrp.Message) (msrp.URI, int) {
	if len(m.ToPath) != 1 {
		return msrp.URI{}, 481
	}
	return m.ToPath[0], c.sessions.lookup(m.ToPath[0], c)
}

func (c *Conn) piece(rx *rxState, b []byte, off int64) {
	if rx.skip || len(b) == 0 {
		return
	}
	if rx.chunk != nil {
		c.writeChunkPiece(rx.chunk, b, off)
		return
	}
	if rx.m.Method != msrp.MethodSEND && len(rx.body)+len(b) <= msrp.MaxNonSendBody {
		rx.body = append(rx.body, b...)
	}
}

// end handles the end of a message.
func (c *Conn) end(rx *rxState) {
	m := rx.m
	if rx.skip {
		return
	}
	switch {
	case m.Method == msrp.MethodREPORT:
		c.handleReport(m, rx.local)
	case m.Method == msrp.MethodSEND && rx.chunk != nil:
		c.endChunk(rx.chunk)
	case m.Method == msrp.MethodSEND:
		c.respond(m, 200, "", rx.local) // bodiless SEND: a keepalive (RFC 7977 §6)
	default:
		code := 501
		if c.opts.OnRequest != nil {
			m.Body = rx.body
			c.callback(func() { code = c.opts.OnRequest(c, m) })
			if code < 200 || code > 999 {
				code = 501
			}
		}
		c.respond(m, code, "", rx.local)
	}
}

// abandon drops a message cut off by a parse error or the connection's end.
func (c *Conn) abandon(rx *rxState) {
	if rx.chunk != nil {
		rx.chunk.broken = true
		c.endChunk(rx.chunk)
	}
}

// handleReport gives a REPORT to the Send it concerns, or to OnReport.
func (c *Conn) handleReport(m *msrp.Message, local msrp.URI) {
	c.mu.Lock()
	out := c.sending[m.MessageID]
	c.mu.Unlock()
	if out != nil && out.s.Local.Equal(local) {
		out.report(m)
		return
	}
	if c.opts.OnReport != nil {
		c.callback(func() { c.opts.OnReport(c, m) })
	}
}
