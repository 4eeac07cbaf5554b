package sipedge

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// callsPerCaller × callers INVITEs are answered with 180 and 200 written back
// to back; for every call the caller must see the 180 before the 200
// (per-connection ordering; sipgo issue #306 shows a 200 overtaking a 180).
const (
	orderCallers        = 4
	orderCallsPerCaller = 500
)

// answerBackToBack answers every INVITE p receives with 180 and 200, written
// with no pause between them (in one write when together is set).
func answerBackToBack(t *testing.T, p *peer, together bool) {
	go func() {
		for m := range p.msgs {
			req, ok := m.(*sip.Request)
			if !ok || req.Method != sip.INVITE {
				continue
			}
			hs := []string{"Contact: <" + p.contact + ">"}
			ringing := replyText(req, 180, "Ringing", "uas", hs, "")
			ok200 := replyText(req, 200, "OK", "uas", append(hs, "Content-Type: application/sdp"), msrpAnswer)
			var err error
			if together {
				err = p.sendRaw([]byte(ringing + ok200))
			} else if err = p.sendRaw([]byte(ringing)); err == nil {
				err = p.sendRaw([]byte(ok200))
			}
			if err != nil {
				return
			}
		}
	}()
}

// runCalls makes calls from each caller to uri and checks the order of the
// responses of every call.
func runCalls(t *testing.T, callers []*peer, uri string, calls int) {
	var wg sync.WaitGroup
	for _, c := range callers {
		wg.Add(1)
		go func(c *peer) {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				inv := c.newRequest("INVITE", uri)
				inv.Headers = append(inv.Headers, "Content-Type: application/sdp")
				inv.Body = msrpOffer
				if err := c.sendRaw([]byte(inv.String())); err != nil {
					t.Errorf("send: %v", err)
					return
				}
				seen180 := false
				for done := false; !done; {
					var m sip.Message
					select {
					case m = <-c.msgs:
					case <-c.gone:
						t.Errorf("%s: connection closed", c.name)
						return
					case <-time.After(waitFor):
						t.Errorf("%s: no response within %v", c.name, waitFor)
						return
					}
					res, ok := m.(*sip.Response)
					if !ok || res.CallID().Value() != inv.CallID {
						t.Errorf("%s: unexpected message %v", c.name, m)
						return
					}
					switch res.StatusCode {
					case 100:
					case 180:
						seen180 = true
					case 200:
						if !seen180 {
							t.Errorf("%s call %d: 200 before 180", c.name, i)
							return
						}
						done = true
					default:
						t.Errorf("%s call %d: got %d", c.name, i, res.StatusCode)
						return
					}
				}
			}
		}(c)
	}
	wg.Wait()
}

func TestOrderWSToWS(t *testing.T) {
	h := newHarness(t, withoutAuth())
	bob := h.dialWS("bob")
	bob.register("bob", "", 600)
	var callers []*peer
	for i := 0; i < orderCallers; i++ {
		c := h.dialWS(fmt.Sprintf("caller%d", i))
		c.register(c.name, "", 600) // embedded mode admits registered senders
		callers = append(callers, c)
	}
	answerBackToBack(t, bob, false)
	runCalls(t, callers, "sip:bob@localhost", orderCallsPerCaller)
}

// The callee is a TCP user agent reached by IP (the edge dials it) that puts
// 180 and 200 in one TCP segment: both are parsed from one read.
func TestOrderTCPToWS(t *testing.T) {
	h := newHarness(t, withoutAuth())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			answerBackToBack(t, h.streamPeer("uas", c), true)
		}
	}()
	var callers []*peer
	for i := 0; i < orderCallers; i++ {
		c := h.dialWS(fmt.Sprintf("caller%d", i))
		c.register(c.name, "", 600) // embedded mode admits registered senders
		callers = append(callers, c)
	}
	runCalls(t, callers, "sip:uas@"+ln.Addr().String()+";transport=tcp", orderCallsPerCaller)
}
