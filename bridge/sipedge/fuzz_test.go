package sipedge

import (
	"errors"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/simplegw/simplegw/bridge/auth"
)

// FuzzWebSocketFraming feeds arbitrary WebSocket message payloads to the
// edge as one browser connection (RFC 7118 §5: one SIP message per WebSocket
// message). The edge must not panic, and everything it sends back must be a
// CRLF keepalive answer or one well-formed SIP message with a valid status
// or request line. Next hops are refused so nothing leaves the process.
func FuzzWebSocketFraming(f *testing.F) {
	seeds := []string{
		"\r\n\r\n",
		"\r\n",
		"OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK1\r\nFrom: <sip:a@localhost>;tag=1\r\nTo: <sip:localhost>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n\r\n",
		"REGISTER sip:localhost SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK2\r\nFrom: <sip:alice@localhost>;tag=1\r\nTo: <sip:alice@localhost>\r\nCall-ID: 2\r\nCSeq: 1 REGISTER\r\nContact: <sip:x@a.invalid;transport=ws>;expires=60\r\nContent-Length: 0\r\n\r\n",
		"MESSAGE sip:bob@localhost SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK3\r\nFrom: <sip:alice@localhost>;tag=1\r\nTo: <sip:bob@localhost>\r\nCall-ID: 3\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n\r\nhi",
		"INVITE sip:bob@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK4\r\nFrom: <sip:alice@localhost>;tag=1\r\nTo: <sip:bob@192.0.2.1>\r\nCall-ID: 4\r\nCSeq: 1 INVITE\r\nContact: <sip:x@a.invalid;transport=ws>\r\nContent-Type: application/sdp\r\nContent-Length: " +
			itoa(len(msrpOffer)) + "\r\n\r\n" + msrpOffer,
		"ACK sip:bob@b.invalid SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK5\r\nRoute: <sip:sgw00000000-0123456789abcdef0123456789abcdef@localhost;transport=ws;lr>\r\nFrom: <sip:alice@localhost>;tag=1\r\nTo: <sip:bob@localhost>;tag=2\r\nCall-ID: 5\r\nCSeq: 1 ACK\r\n\r\n",
		"CANCEL sip:bob@localhost SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK6\r\nFrom: <sip:alice@localhost>;tag=1\r\nTo: <sip:bob@localhost>\r\nCall-ID: 6\r\nCSeq: 1 CANCEL\r\n\r\n",
		"SUBSCRIBE sip:bob@localhost SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK7\r\nFrom: <sip:alice@localhost>;tag=1\r\nTo: <sip:bob@localhost>\r\nCall-ID: 7\r\nCSeq: 1 SUBSCRIBE\r\nEvent: presence\r\nContact: <sip:x@a.invalid;transport=ws>\r\n\r\n",
		"PUBLISH sip:alice@localhost SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK8\r\nFrom: <sip:alice@localhost>;tag=1\r\nTo: <sip:alice@localhost>\r\nCall-ID: 8\r\nCSeq: 1 PUBLISH\r\nEvent: presence\r\nContent-Type: application/pidf+xml\r\n\r\n<presence xmlns='urn:ietf:params:xml:ns:pidf'/>",
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/WS localhost;branch=z9hG4bKsgw1\r\nFrom: <sip:a@localhost>;tag=1\r\nTo: <sip:b@localhost>;tag=2\r\nCall-ID: 9\r\nCSeq: 1 MESSAGE\r\n\r\n",
		"MESSAGE sip:bob@localhost SIP/2.0\r\nContent-Length: 99999\r\n\r\n",
		"\x00\xff garbage",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}

	store := auth.NewStore(auth.StoreConfig{Users: map[string]string{"alice": "pw"}})
	e, err := New(Config{Domain: "localhost", Digest: auth.NewDigest("localhost", store)})
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close()
	e.hopFilter = func(*nextHop) error { return errors.New("no next hops while fuzzing") }
	fl := &flow{e: e, transport: "WS", token: newToken(), out: make(chan []byte, sendQueue), done: make(chan struct{})}
	e.mu.Lock()
	e.flows[fl.token] = fl
	e.mu.Unlock()

	f.Fuzz(func(t *testing.T, data []byte) {
		e.receivePacket(fl, data)
		// What the edge answers synchronously is queued by now.
		for {
			select {
			case b := <-fl.out:
				if problem := checkSent(b); problem != "" {
					t.Fatalf("edge sent a bad message (%s):\n%s", problem, b)
				}
				continue
			default:
			}
			break
		}
		if !fl.alive() {
			t.Fatal("the fuzzed connection was closed")
		}
	})
}

// checkSent returns what is wrong with a message the edge wrote to a
// browser, or "".
func checkSent(b []byte) string {
	if string(b) == "\r\n" {
		return ""
	}
	m, err := sip.ParseMessage(b)
	if err != nil {
		return "unparseable: " + err.Error()
	}
	switch m := m.(type) {
	case *sip.Response:
		if m.StatusCode < 100 || m.StatusCode > 699 {
			return "bad status"
		}
		if m.Via() == nil || m.CSeq() == nil {
			return "response without Via or CSeq"
		}
	case *sip.Request:
		if m.Method != sip.NOTIFY {
			return "unexpected request " + string(m.Method)
		}
	}
	return ""
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
