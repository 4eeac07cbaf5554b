package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo/sip"

	"github.com/simplegw/simplegw/bridge/auth"
)

// clients are the browser-like SIP-over-WebSocket user agents (RFC 7118)
// registered at the gateway; each answers every request it receives with
// 200 (RFC 3428 §7 for MESSAGE).
//
// Concurrency: each connection has one reader goroutine, which also writes
// the answers; the counters are atomic.
type clients struct {
	users    []string // user parts of the registered AORs at domain
	answered atomic.Int64
	errors   atomic.Int64 // requests that could not be parsed or answered
	conns    []*websocket.Conn
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// registerClients connects n clients to ws://httpAddr/sip and registers
// each as sbN@domain, answering the registrar's digest challenge (RFC 3261
// §22.2) with any password: the gateway runs in open demo mode.
func registerClients(ctx context.Context, httpAddr string, n int) (*clients, error) {
	ctx, cancel := context.WithCancel(ctx)
	cs := &clients{cancel: cancel, users: make([]string, n), conns: make([]*websocket.Conn, n)}
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	var reg sync.WaitGroup
	for i := range n {
		cs.users[i] = fmt.Sprintf("sb%d", i)
		reg.Add(1)
		go func() {
			defer reg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := cs.dial(ctx, httpAddr, cs.users[i])
			cs.conns[i] = c
			errs <- err
		}()
	}
	reg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			cs.close()
			return nil, fmt.Errorf("registering WebSocket clients: %w", err)
		}
	}
	return cs, nil
}

// dial connects and registers one client, then leaves its reader running.
func (cs *clients) dial(ctx context.Context, httpAddr, user string) (*websocket.Conn, error) {
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	c, _, err := websocket.Dial(dctx, "ws://"+httpAddr+"/sip", &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		return nil, err
	}
	if c.Subprotocol() != "sip" {
		c.CloseNow()
		return nil, errors.New("the gateway did not accept the sip subprotocol")
	}
	c.SetReadLimit(1 << 20)
	responses := make(chan *sip.Response, 4)
	cs.wg.Add(1)
	go func() {
		defer cs.wg.Done()
		cs.serve(ctx, c, httpAddr, responses)
	}()

	host := randHex(6) + ".invalid"
	callID, fromTag := randHex(10), randHex(4)
	register := func(cseq int, extra string) error {
		msg := fmt.Sprintf("REGISTER sip:%s SIP/2.0\r\n"+
			"Via: SIP/2.0/WS %s;branch=z9hG4bK%s\r\n"+
			"Max-Forwards: 70\r\n"+
			"From: <sip:%s@%s>;tag=%s\r\n"+
			"To: <sip:%s@%s>\r\n"+
			"Call-ID: %s\r\n"+
			"CSeq: %d REGISTER\r\n"+
			"Contact: <sip:%s@%s;transport=ws>;expires=3600\r\n"+
			"%sContent-Length: 0\r\n\r\n",
			domain, host, randHex(8), user, domain, fromTag, user, domain, callID, cseq, user, host, extra)
		return c.Write(dctx, websocket.MessageText, []byte(msg))
	}
	await := func() (*sip.Response, error) {
		select {
		case r := <-responses:
			return r, nil
		case <-dctx.Done():
			return nil, fmt.Errorf("%s: no answer to REGISTER", user)
		}
	}
	if err := register(1, ""); err != nil {
		c.CloseNow()
		return nil, err
	}
	res, err := await()
	if err == nil && res.StatusCode == 401 {
		var ans *auth.Answer
		ch := res.GetHeader("WWW-Authenticate")
		if ch == nil {
			err = fmt.Errorf("%s: 401 without WWW-Authenticate", user)
		} else if ans, err = auth.Respond(ch.Value(), "REGISTER", "sip:"+domain, user, "sipbench"); err == nil {
			if err = register(2, "Authorization: "+ans.Authorization+"\r\n"); err == nil {
				res, err = await()
			}
		}
	}
	if err == nil && res.StatusCode != 200 {
		err = fmt.Errorf("%s: REGISTER answered %d %s", user, res.StatusCode, res.Reason)
	}
	if err != nil {
		c.CloseNow()
		return nil, err
	}
	return c, nil
}

// serve reads the connection: responses go to responses (registration),
// requests are answered with 200 at once.
func (cs *clients) serve(ctx context.Context, c *websocket.Conn, server string, responses chan<- *sip.Response) {
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		if strings.Trim(string(data), "\r\n") == "" {
			continue // keepalive (RFC 5626 §4.4.1)
		}
		m, err := sip.ParseMessage(data)
		if err != nil {
			cs.errors.Add(1)
			continue
		}
		switch m := m.(type) {
		case *sip.Response:
			select {
			case responses <- m:
			default:
			}
		case *sip.Request:
			if m.IsAck() {
				continue
			}
			// Counted before the 200 leaves: once the load client holds the answer, the
			// count already includes it.
			cs.answered.Add(1)
			if err := c.Write(ctx, websocket.MessageText, answer(m, server)); err != nil {
				cs.answered.Add(-1)
				cs.errors.Add(1)
				continue
			}
		}
	}
}

func (cs *clients) close() {
	for _, c := range cs.conns {
		if c != nil {
			c.Close(websocket.StatusGoingAway, "sipbench done")
		}
	}
	cs.cancel()
	cs.wg.Wait()
}

// answer builds the 200 to req (RFC 3261 §8.2.6) with sipgo: Via, From, To
// (with a new tag), Call-ID and CSeq copied. source is where req came from,
// for RFC 3581 rport/received on the top Via.
func answer(req *sip.Request, source string) []byte {
	req.SetSource(source)
	return []byte(sip.NewResponseFromRequest(req, 200, "OK", nil).String())
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
