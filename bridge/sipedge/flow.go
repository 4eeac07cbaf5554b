package sipedge

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Limits and timers of connections.
const (
	// maxMessageSize bounds one SIP message on every transport.
	maxMessageSize = 65535
	// sendQueue is how many messages may wait for one connection's writer.
	sendQueue = 256
	// sendTimeout is how long a producer waits for room in a full send
	// queue before the connection is dropped as too slow.
	sendTimeout = 5 * time.Second
	// writeTimeout bounds one write to a connection.
	writeTimeout = 10 * time.Second
	// streamIdleTimeout closes a TCP/TLS connection that sends nothing for
	// longer than the longest registration (maxExpires) plus a margin, so a
	// registered client that refreshes keeps its flow.
	streamIdleTimeout = maxExpires*time.Second + 5*time.Minute
	// dialTimeout bounds connecting to a TCP/TLS next hop.
	dialTimeout = 5 * time.Second
)

var errFlowClosed = errors.New("sipedge: flow closed")

// flow is one path to a peer (RFC 5626 §3.2): a WebSocket, TCP or TLS
// connection, or a UDP socket with the peer's address. It implements
// sip.Connection so sipgo's transactions write through it.
//
// Concurrency: every field is set before the flow is shared, except the
// close state (closeOnce, done). Writes to a connection flow go through a
// bounded queue drained by a single writer goroutine, so messages leave in the
// order send was called; send is safe for concurrent use. UDP flows are
// values made per datagram and write directly to the socket.
type flow struct {
	e         *Edge
	transport string // Via transport: "WS", "TCP", "TLS" or "UDP"
	token     string // flow token; "" for UDP and dialled flows
	remote    string // peer address "ip:port"; "" when unknown (WebSocket)
	local     net.Addr

	// Connection flows.
	out       chan []byte
	done      chan struct{}
	closeOnce sync.Once
	closeFn   func(reason string) // closes the underlying connection
	poolKey   string              // set for dialled flows

	// UDP flows.
	udp   *udpSocket
	uaddr *net.UDPAddr
}

// udpSocket is a UDP socket the edge reads from and sends with.
type udpSocket struct {
	pc net.PacketConn
}

func (f *flow) isUDP() bool { return f.udp != nil }

// isWS reports whether the peer is a WebSocket client.
func (f *flow) isWS() bool { return f.transport == "WS" }

// send queues b for the peer. It fails at once when the flow is closed, and
// closes the flow (asynchronously) when its queue stays full for sendTimeout.
func (f *flow) send(b []byte) error {
	if f.udp != nil {
		_, err := f.udp.pc.WriteTo(b, f.uaddr)
		return err
	}
	select {
	case <-f.done:
		return errFlowClosed
	default:
	}
	select {
	case f.out <- b:
		return nil
	default:
	}
	t := time.NewTimer(sendTimeout)
	defer t.Stop()
	select {
	case f.out <- b:
		return nil
	case <-f.done:
		return errFlowClosed
	case <-t.C:
		// Closed on another goroutine: the caller may hold locks that the
		// flow's cleanup (registrar, presence, proxy contexts) takes.
		go f.close("send queue full")
		return errFlowClosed
	}
}

// writeLoop drains the send queue with write until the flow closes or a
// write fails.
func (f *flow) writeLoop(write func([]byte) error) {
	for {
		select {
		case <-f.done:
			return
		case b := <-f.out:
			if err := write(b); err != nil {
				f.close("write: " + err.Error())
				return
			}
		}
	}
}

// close closes a connection flow once: it forgets the flow, closes the
// connection and lets the registrar, presence server and pending client
// transactions know.
func (f *flow) close(reason string) {
	if f.udp != nil {
		return
	}
	f.closeOnce.Do(func() {
		close(f.done)
		e := f.e
		e.mu.Lock()
		if f.token != "" && e.flows[f.token] == f {
			delete(e.flows, f.token)
		}
		if f.poolKey != "" && e.pool[f.poolKey] == f {
			delete(e.pool, f.poolKey)
		}
		e.mu.Unlock()
		e.log.Debug("flow closed", "transport", f.transport, "remote", f.remote, "reason", reason)
		if f.closeFn != nil {
			f.closeFn(reason)
		}
		e.reg.flowClosed(f)
		e.pres.flowClosed(f)
		e.flowClosed(f)
	})
}

// same reports whether f and g are the same path to a peer.
func (f *flow) same(g *flow) bool {
	if f == nil || g == nil {
		return false
	}
	if f.udp != nil || g.udp != nil {
		return f.udp == g.udp && f.remote == g.remote
	}
	return f == g
}

// alive reports whether a connection flow is still open (UDP flows always
// are).
func (f *flow) alive() bool {
	if f.udp != nil {
		return true
	}
	select {
	case <-f.done:
		return false
	default:
		return true
	}
}

// sip.Connection, for sipgo's ServerTx and ClientTx.

// LocalAddr returns the local address of the flow.
func (f *flow) LocalAddr() net.Addr {
	if f.udp != nil {
		return f.udp.pc.LocalAddr()
	}
	return f.local
}

// WriteMsg serializes msg and sends it on the flow.
func (f *flow) WriteMsg(msg sip.Message) error {
	return f.send([]byte(msg.String()))
}

// Ref is a no-op: flows live as long as their connection, not as long as
// the transactions using them.
func (f *flow) Ref(int) int { return 1 }

// TryClose is a no-op for the same reason as Ref.
func (f *flow) TryClose() (int, error) { return 1, nil }

// Close is a no-op: transactions never close a flow; see flow.close.
func (f *flow) Close() error { return nil }
