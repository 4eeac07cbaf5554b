package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/simplegw/simplegw/bridge/auth"
	"github.com/simplegw/simplegw/bridge/msrp"
)

// wire is one MSRP connection of the load generator, over WebSocket (RFC 7977: one chunk per
// message) or TCP. Writes are safe for concurrent use; one goroutine reads.
type wire interface {
	write(b []byte) error
	// next returns the next message's headers and the length of its body. Over TCP a long
	// chunk arrives in pieces; next returns once the whole chunk has been read.
	next() (*msrp.Message, int, error)
	// bodyHead returns the first (at most headLen) body bytes of the message next last
	// returned; valid until the next call to next.
	bodyHead() []byte
	close()
}

// headLen is how much of each body [wire.bodyHead] keeps: the tag of a latency probe.
const headLen = 16

type wsWire struct {
	ws   *websocket.Conn
	buf  bytes.Buffer // the last message read, reused
	last *msrp.Message
}

func dialWS(ctx context.Context, httpAddr string) (*wsWire, error) {
	ws, _, err := websocket.Dial(ctx, "ws://"+httpAddr+"/msrp", &websocket.DialOptions{Subprotocols: []string{"msrp"}})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(4 << 20)
	return &wsWire{ws: ws}, nil
}

func (w *wsWire) write(b []byte) error {
	return w.ws.Write(context.Background(), websocket.MessageBinary, b)
}

func (w *wsWire) next() (*msrp.Message, int, error) {
	_, r, err := w.ws.Reader(context.Background())
	if err != nil {
		return nil, 0, err
	}
	w.buf.Reset()
	if _, err := w.buf.ReadFrom(r); err != nil {
		return nil, 0, err
	}
	m, err := msrp.Parse(w.buf.Bytes())
	if err != nil {
		return nil, 0, err
	}
	w.last = m
	return m, len(m.Body), nil
}

func (w *wsWire) bodyHead() []byte {
	if w.last == nil {
		return nil
	}
	return w.last.Body[:min(len(w.last.Body), headLen)]
}

func (w *wsWire) close() { w.ws.CloseNow() }

type tcpWire struct {
	c    net.Conn
	rd   *msrp.Reader
	mu   sync.Mutex // serialises writes
	head [headLen]byte
	nh   int // bytes of head in use
}

func newTCPWire(c net.Conn) *tcpWire {
	return &tcpWire{c: c, rd: msrp.NewReader(c, 0, 0)}
}

func dialTCP(addr string) (*tcpWire, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return newTCPWire(c), nil
}

func (w *tcpWire) write(b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.c.Write(b)
	return err
}

func (w *tcpWire) next() (*msrp.Message, int, error) {
	n := 0
	w.nh = 0
	for {
		p, err := w.rd.Next()
		if err != nil {
			var pe *msrp.ParseError
			if errors.As(err, &pe) {
				w.nh = 0
				continue
			}
			return nil, 0, err
		}
		if w.nh < headLen {
			w.nh += copy(w.head[w.nh:], p.Body)
		}
		n += len(p.Body)
		if p.Final {
			return p.Message, n, nil
		}
	}
}

func (w *tcpWire) bodyHead() []byte { return w.head[:w.nh] }

func (w *tcpWire) close() { w.c.Close() }

// authTimeout bounds the whole AUTH exchange: a relay that never answers closes w.
const authTimeout = 5 * time.Second

// authenticate obtains a relay URI from the relay at the other end of w (RFC 4976 §5.1:
// AUTH, 401, AUTH with digest, 200 with Use-Path). The gateway runs in its open loopback demo
// mode, so any name and password pass the digest check; a relay that answers the first AUTH
// with 200 at once (the Kamailio baseline's benchmark config) is taken at its word. It must
// run before anything else reads w; when no answer comes within authTimeout, w is closed.
func authenticate(w wire, self msrp.URI) (msrp.URI, error) {
	relay, _ := msrp.ParseURI("msrp://127.0.0.1:2855;tcp")
	var expired atomic.Bool
	timer := time.AfterFunc(authTimeout, func() {
		expired.Store(true)
		w.close()
	})
	defer timer.Stop()
	timedOut := func(err error) error {
		if expired.Load() {
			return fmt.Errorf("AUTH: no answer within %v", authTimeout)
		}
		return err
	}
	ask := func(authz string) (*msrp.Message, error) {
		m := &msrp.Message{TransactionID: msrp.NewIdent(), Method: msrp.MethodAUTH, ToPath: []msrp.URI{relay}, FromPath: []msrp.URI{self}}
		if authz != "" {
			m.Fields = []msrp.Field{{Name: "Authorization", Value: authz}}
		}
		if err := w.write(m.Bytes()); err != nil {
			return nil, timedOut(err)
		}
		for {
			resp, _, err := w.next()
			if err != nil {
				return nil, timedOut(err)
			}
			if !resp.IsRequest() && resp.TransactionID == m.TransactionID {
				return resp, nil
			}
		}
	}
	ok, err := ask("")
	if err != nil {
		return msrp.URI{}, err
	}
	if ok.Code == 401 {
		wa, _ := ok.Get("WWW-Authenticate")
		a, err := auth.Respond(wa, msrp.MethodAUTH, relay.String(), "bench", "bench")
		if err != nil {
			return msrp.URI{}, err
		}
		if ok, err = ask(a.Authorization); err != nil {
			return msrp.URI{}, err
		}
	}
	if ok.Code != 200 {
		return msrp.URI{}, errors.New("AUTH: status " + strconv.Itoa(ok.Code) + " " + ok.Comment)
	}
	up, err := ok.UsePath()
	if err != nil {
		return msrp.URI{}, err
	}
	return up[0], nil
}

// answer reads w until it fails, answering every request that wants it with 200 (RFC 4975
// §7.2) and calling onSend for each SEND chunk with its body length, whether it ends a
// message and the head of its body, and onResponse for each response.
func answer(w wire, self msrp.URI, onSend func(bodyLen int, last bool, head []byte), onResponse func(*msrp.Message)) error {
	var out []byte
	for {
		m, n, err := w.next()
		if err != nil {
			return err
		}
		if !m.IsRequest() {
			if onResponse != nil {
				onResponse(m)
			}
			continue
		}
		if m.Method == msrp.MethodSEND && onSend != nil {
			onSend(n, m.Flag == msrp.FlagEnd, w.bodyHead())
		}
		if m.Method == msrp.MethodREPORT || m.FailureReport == msrp.ReportNo {
			continue
		}
		out = msrp.NewResponse(m, 200, "OK", self).Append(out[:0])
		if err := w.write(out); err != nil {
			return err
		}
	}
}
