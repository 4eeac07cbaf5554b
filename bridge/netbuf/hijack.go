package netbuf

import (
	"bufio"
	"net"
	"net/http"
)

// ResponseWriter wraps an http.ResponseWriter so that whoever hijacks the connection from it
// (coder/websocket's Accept) gets a *Conn with borrowed reads, and bufio buffers of a few
// bytes instead of the HTTP server's 4 KiB each: an idle upgraded connection then keeps
// neither a read nor a write buffer.
//
// Concurrency: like the http.ResponseWriter it wraps, it is used by the handler's goroutine;
// Conn may be called once Hijack has returned.
type ResponseWriter struct {
	http.ResponseWriter
	conn *Conn
}

// NewResponseWriter wraps w.
func NewResponseWriter(w http.ResponseWriter) *ResponseWriter {
	return &ResponseWriter{ResponseWriter: w}
}

// Unwrap returns the wrapped writer (for http.ResponseController).
func (w *ResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack implements http.Hijacker: it hijacks the wrapped writer's connection and returns it
// as a *Conn that first yields whatever the HTTP server had already read past the request.
func (w *ResponseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	var early []byte
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ = brw.Reader.Peek(n)
	}
	if n := brw.Writer.Buffered(); n > 0 {
		// Nothing should be pending (the server flushes the response head before it hands
		// the connection over); if anything is, it goes out first.
		if err := brw.Writer.Flush(); err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
	w.conn = New(nc, Options{Buffered: early, BorrowReads: true})
	// 16 bytes is bufio's smallest reader: a frame header comes through it, payloads go
	// around it (a read into a large buffer bypasses bufio). 256 bytes of write buffer hold a
	// WebSocket control frame whole.
	br := bufio.NewReaderSize(w.conn, 16)
	w.conn.upper = br
	return w.conn, bufio.NewReadWriter(br, bufio.NewWriterSize(w.conn, 256)), nil
}

// Conn returns the hijacked connection, or nil before Hijack.
func (w *ResponseWriter) Conn() *Conn { return w.conn }
