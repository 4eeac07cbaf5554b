package sipua

import (
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// memTransport is a transport that sends nowhere, for feeding a UA by hand.
type memTransport struct{ closed chan struct{} }

func (m *memTransport) send([]byte, net.Addr) error { return nil }
func (m *memTransport) local() (string, int)        { return "127.0.0.1", 5070 }
func (m *memTransport) network() string             { return "UDP" }
func (m *memTransport) close() error                { close(m.closed); return nil }
func (m *memTransport) run(*sip.Parser, func(sip.Message, net.Addr)) error {
	<-m.closed
	return net.ErrClosed
}

// FuzzReceive: whatever the network delivers, parsed by sipgo, the UA answers or drops
// it without panicking.
func FuzzReceive(f *testing.F) {
	inv := "INVITE sip:bob@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKa;rport\r\n" +
		"Record-Route: <sip:p@127.0.0.1;lr>\r\nFrom: <sip:alice@localhost>;tag=a\r\nTo: <sip:bob@localhost>\r\n" +
		"Call-ID: c\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:9>\r\nContent-Type: application/sdp\r\n" +
		"Content-Length: 4\r\n\r\nv=0\n"
	f.Add([]byte(inv))
	f.Add([]byte("CANCEL sip:bob@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKa\r\n" +
		"From: <sip:alice@localhost>;tag=a\r\nTo: <sip:bob@localhost>\r\nCall-ID: c\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("ACK sip:bob@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKb\r\n" +
		"From: <sip:alice@localhost>;tag=a\r\nTo: <sip:bob@localhost>;tag=x\r\nCall-ID: c\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("BYE sip:bob@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=1\r\n" +
		"From: <sip:alice@localhost>;tag=a\r\nTo: <sip:bob@localhost>;tag=x\r\nCall-ID: c\r\nCSeq: 2 BYE\r\nRequire: x\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx\r\n" +
		"From: <sip:bob@localhost>;tag=b\r\nTo: <sip:alice@localhost>;tag=a\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("OPTIONS sip:bob@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@h>\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n"))

	ua, _, _, err := newUA(Config{AOR: "sip:bob@localhost", Proxy: "127.0.0.1:5060", T1: time.Millisecond, T2: 4 * time.Millisecond,
		OnInvite: func(ic *IncomingCall) {
			ic.Ring()
			if len(ic.Offer())%2 == 0 {
				ic.Answer("", []byte("x"))
			} else {
				ic.Reject(486, "")
			}
		}})
	if err != nil {
		f.Fatal(err)
	}
	ua.attach(&memTransport{closed: make(chan struct{})})
	defer ua.Close()
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sip.ParseMessage(data)
		if err != nil {
			return
		}
		msg.SetSource(src.String())
		switch m := msg.(type) {
		case *sip.Request:
			ua.onRequest(m, src)
		case *sip.Response:
			ua.onResponse(m)
		}
	})
}
