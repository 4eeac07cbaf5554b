package sipedge

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo/sip"
)

// Malformed SIP and SDP get a clear answer (RFC 3261 §16.3 400, RFC 3261
// §21.4.26 488 for SDP) or are dropped, and neither the sender's connection
// nor anybody else's stops working.
func TestMalformedInput(t *testing.T) {
	h := newHarness(t)
	alice, bob := registeredPair(t, h)

	cases := []struct {
		name   string
		raw    string
		code   int
		reason string
	}{
		{"missing Call-ID",
			"MESSAGE sip:bob@localhost SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK1\r\nFrom: <sip:alice@localhost>;tag=1\r\n" +
				"To: <sip:bob@localhost>\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n", 400, "missing Call-ID"},
		{"CSeq method mismatch",
			"MESSAGE sip:bob@localhost SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK2\r\nFrom: <sip:alice@localhost>;tag=1\r\n" +
				"To: <sip:bob@localhost>\r\nCall-ID: c2\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", 400, "CSeq method"},
		{"Content-Length beyond the message",
			"MESSAGE sip:bob@localhost SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK3\r\nFrom: <sip:alice@localhost>;tag=1\r\n" +
				"To: <sip:bob@localhost>\r\nCall-ID: c3\r\nCSeq: 1 MESSAGE\r\nContent-Length: 100\r\n\r\nshort", 400, "shorter than Content-Length"},
		{"two messages in one WebSocket message",
			"OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK4\r\nFrom: <sip:alice@localhost>;tag=1\r\n" +
				"To: <sip:localhost>\r\nCall-ID: c4\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" +
				"OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK5\r\n\r\n", 400, "RFC 7118"},
		{"bad Max-Forwards",
			"OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK6\r\nFrom: <sip:alice@localhost>;tag=1\r\n" +
				"To: <sip:localhost>\r\nCall-ID: c6\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: many\r\nContent-Length: 0\r\n\r\n", 400, "Bad Request"},
	}
	for _, c := range cases {
		alice.send(c.raw)
		res := alice.expectResponse(c.code)
		if !strings.Contains(res.Reason, c.reason) {
			t.Errorf("%s: reason %q, want it to mention %q", c.name, res.Reason, c.reason)
		}
	}

	// Not SIP at all: dropped.
	alice.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	alice.send("\x00\x01\x02 garbage")

	// SDP checks (bridge/sdp) on a browser's INVITE.
	sdpCases := []struct {
		body   string
		code   int
		reason string
	}{
		{strings.Replace(msrpOffer, "a=path:msrps://a.invalid:9/offer1;ws\r\n", "", 1), 488, "a=path"},
		{strings.Replace(msrpOffer, "msrps://a.invalid:9/offer1;ws", "msrps://a.invalid/offer1;ws", 1), 488, "port"},
		{strings.Replace(msrpOffer, "a=setup:active", "a=setup:passive", 1), 488, "passive"},
		{"v=0\r\nm=message 9 TCP/MSRP *\r\nbogus line\r\n", 400, "malformed SDP"},
		// A CR inside a line once made bridge/sdp panic, which took the gateway down.
		{strings.Replace(msrpOffer, "\r\nm=message", "\rm=message", 1) + "m=message 3 TCP/MSRP *\r\n", 400, "CR"},
	}
	for _, c := range sdpCases {
		inv := alice.newRequest("INVITE", "sip:bob@localhost")
		inv.Headers = append(inv.Headers, "Content-Type: application/sdp")
		inv.Body = c.body
		alice.send(inv.String())
		res := alice.expectResponse(c.code)
		if !strings.Contains(res.Reason, c.reason) {
			t.Errorf("SDP: reason %q, want it to mention %q", res.Reason, c.reason)
		}
		ack := &out{Method: "ACK", URI: inv.URI, Via: inv.Via, From: inv.From, To: res.To().Value(), CallID: inv.CallID, CSeq: inv.CSeq}
		alice.send(ack.String())
	}
	// Legacy TCP/WSS/MSRP is tolerated and passed on untouched.
	inv := alice.newRequest("INVITE", "sip:bob@localhost")
	inv.Headers = append(inv.Headers, "Content-Type: application/sdp")
	inv.Body = strings.Replace(msrpOffer, "TCP/TLS/MSRP", "TCP/WSS/MSRP", 1)
	alice.send(inv.String())
	req := bob.expectRequest(sip.INVITE)
	if string(req.Body()) != inv.Body {
		t.Fatal("legacy SDP was modified")
	}
	bob.reply(req, 486, "Busy Here", "bt", nil, "")
	busy := alice.expectResponse(486)
	bob.expectRequest(sip.ACK) // the edge's client transaction acknowledges (RFC 3261 §17.1.1.3)
	alice.send((&out{Method: "ACK", URI: inv.URI, Via: inv.Via, From: inv.From, To: busy.To().Value(), CallID: inv.CallID, CSeq: inv.CSeq}).String())

	// A raw TCP client sending garbage is disconnected (no message boundary
	// left, RFC 3261 §18.3); the others keep working.
	c, err := net.Dial("tcp", h.tcpAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("THIS IS NOT SIP\r\nReally: not\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("garbage connection not closed: %v", err)
	}

	// An oversized WebSocket message closes that connection with 1009.
	big := h.dialWS("big")
	big.sendRaw([]byte("MESSAGE sip:bob@localhost SIP/2.0\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("x", 1000)+"\r\n", 70)))
	select {
	case <-big.gone:
	case <-time.After(waitFor):
		t.Fatal("oversized WebSocket message did not close the connection")
	}

	// Everybody else still works.
	m := alice.newRequest("MESSAGE", "sip:bob@localhost")
	m.Body = "still here"
	alice.send(m.String())
	r := bob.expectRequest(sip.MESSAGE)
	if string(r.Body()) != "still here" {
		t.Fatalf("body %q", r.Body())
	}
	bob.reply(r, 200, "OK", "b", nil, "")
	alice.expectResponse(200)
}

// The gateway's handshake checks live outside the edge; this checks that a
// closed edge refuses WebSocket connections cleanly and Serve methods return.
func TestCloseEndsEverything(t *testing.T) {
	h := newHarness(t)
	alice := h.dialWS("alice")
	alice.register("alice", "alice-pw", 600)
	if err := h.e.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-alice.gone:
	case <-time.After(waitFor):
		t.Fatal("browser connection not closed by Close")
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	url := "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/sip"
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("read after Close: %v", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("connection not closed")
	}
}
