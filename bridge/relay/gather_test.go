package relay

// Regression tests for write gathering (package netbuf, conn.batch), from a review of the
// change: each scenario once deadlocked, stranded bytes or delayed a chunk.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/simplegw/simplegw/bridge/msrp"
	"github.com/simplegw/simplegw/bridge/netbuf"
)

// floodingPeer is a TCP peer the relay dialled for alice; it sends SENDs toward alice and
// never reads the relay's 200s, until the relay stops reading it.
func floodingPeer(t *testing.T, tr *testRelay) (alice *endpoint, bob net.Conn, stuck <-chan struct{}) {
	t.Helper()
	alice = tr.dialWS(t, "alice")
	relayA := alice.bind("alice")
	go func() {
		for range alice.inq {
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	bobURI := mustURI(t, fmt.Sprintf("msrp://%s/%s;tcp", ln.Addr(), msrp.NewIdent()))
	alice.send(textSEND([]msrp.URI{relayA, bobURI}, "hello"))
	bob, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bob.Close() })
	bob.(*net.TCPConn).SetReadBuffer(8192)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100000 {
			var burst bytes.Buffer
			for range 10 {
				m := textSEND([]msrp.URI{relayA, alice.self}, strings.Repeat("z", 100))
				m.TransactionID = msrp.NewTransactionID(m.Body)
				m.FromPath = []msrp.URI{bobURI}
				burst.Write(m.Bytes())
			}
			bob.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := bob.Write(burst.Bytes()); err != nil {
				return // the relay stopped reading bob: its write of the 200s is stuck
			}
		}
	}()
	return alice, bob, done
}

func relayConns(tr *testRelay) int {
	tr.Relay.mu.RLock()
	defer tr.Relay.mu.RUnlock()
	return len(tr.Relay.conns)
}

func goroutineDump() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// The reader flushes its gathered 200s when it would wait; the peer resets the connection
// meanwhile. The failed flush closes the connection from the reader itself, which must not
// wait for its own read (Close waits for every user of the descriptor).
func TestPeerResetWhileTheReaderFlushes(t *testing.T) {
	tr := newTestRelay(t, func(c *Config) { c.TransactionTimeout = time.Hour })
	_, bob, stuck := floodingPeer(t, tr)
	<-stuck
	bob.Close() // unread data: the kernel answers with RST
	deadline := time.Now().Add(10 * time.Second)
	for relayConns(tr) != 1 { // alice's is left
		if time.Now().After(deadline) {
			t.Fatalf("the relay's connection to the reset peer never ended:\n%s", goroutineDump())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The sweeper closes a connection whose peer reads nothing while its reader is blocked
// flushing to it; Relay.Close must not hang behind them.
func TestSweeperClosesAReaderStuckFlushing(t *testing.T) {
	tr := newTestRelay(t, func(c *Config) {
		c.WriteTimeout = 400 * time.Millisecond
		c.TransactionTimeout = time.Hour
	})
	_, _, stuck := floodingPeer(t, tr)
	<-stuck
	deadline := time.Now().Add(10 * time.Second)
	for relayConns(tr) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the sweeper never dropped the stuck peer:\n%s", goroutineDump())
		}
		time.Sleep(20 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { tr.Relay.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("Relay.Close hung:\n%s", goroutineDump())
	}
}

// A peer sends one chunk to carol and then a long run to alice, whose browser reads nothing:
// carol's chunk must not wait behind alice (WriteTimeout is 60 s).
func TestGatheredChunkDoesNotWaitBehindASlowDestination(t *testing.T) {
	tr := newTestRelay(t, nil)
	alice := tr.dialWS(t, "alice")
	relayA := alice.bind("alice")
	carol := tr.dialWS(t, "carol")
	relayC := carol.bind("carol")
	bobURI := mustURI(t, "msrp://127.0.0.1:9/"+msrp.NewIdent()+";tcp")
	nc, err := net.Dial("tcp", tr.tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var all bytes.Buffer
	add := func(m *msrp.Message) {
		m.TransactionID = msrp.NewTransactionID(m.Body)
		m.FromPath = []msrp.URI{bobURI}
		m.FailureReport = msrp.ReportNo
		all.Write(m.Bytes())
	}
	add(textSEND([]msrp.URI{relayC, carol.self}, "for carol"))
	for i := range 3000 {
		add(textSEND([]msrp.URI{relayA, alice.self}, fmt.Sprintf("%05d", i)+strings.Repeat("a", 8000)))
	}
	go nc.Write(all.Bytes())                              // blocks once the relay stops reading
	if m := carol.recv(); string(m.Body) != "for carol" { // recv fails the test after 5 s
		t.Fatalf("carol got %q", m.Body)
	}
}

// The relay closes a WebSocket client (Relay.Close: 1001) while another connection's reader
// floods it with gathered chunks: the close frame must reach the client.
func TestCloseFrameReachesAFloodedClient(t *testing.T) {
	const runs = 20
	for i := range runs {
		tr := newTestRelay(t, nil)
		alice := tr.dialWS(t, "alice")
		relayA := alice.bind("alice")
		bob := newPeer(t, "bob")
		alice.send(textSEND([]msrp.URI{relayA, bob.uri}, "hi"))
		bobConn := bob.accept()
		stop := make(chan struct{})
		go func() {
			for {
				var burst bytes.Buffer
				for range 20 {
					m := textSEND([]msrp.URI{relayA, alice.self}, strings.Repeat("q", 200))
					m.TransactionID = msrp.NewTransactionID(m.Body)
					m.FromPath = []msrp.URI{bob.uri}
					m.FailureReport = msrp.ReportNo
					burst.Write(m.Bytes())
				}
				select {
				case <-stop:
					return
				default:
				}
				if _, err := bobConn.nc.Write(burst.Bytes()); err != nil {
					return
				}
			}
		}()
		for range 300 {
			if _, ok := <-alice.inq; !ok {
				t.Fatal("alice's connection ended early")
			}
		}
		go tr.Relay.Close()
		for range alice.inq {
		}
		close(stop)
		if err := alice.closeErr(); websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Fatalf("run %d: alice's connection ended with %v, want a 1001 close frame", i, err)
		}
	}
}

// As the gateway serves /msrp, done drops the connection (CloseNow): the relay's own close
// frame (1002 for a message that is not MSRP) must have gone out before.
func TestCloseCodeGoesOutBeforeDone(t *testing.T) {
	tr := newTestRelay(t, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		nw := netbuf.NewResponseWriter(w)
		ws, err := websocket.Accept(nw, req, &websocket.AcceptOptions{Subprotocols: []string{"msrp"}})
		if err != nil {
			return
		}
		tr.Relay.ServeWebSocketConn(context.Background(), ws, nw.Conn(), func() { ws.CloseNow() })
	}))
	defer srv.Close()
	for i := range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{Subprotocols: []string{"msrp"}})
		if err != nil {
			t.Fatal(err)
		}
		ws.Write(ctx, websocket.MessageText, []byte("hello, not msrp"))
		_, _, err = ws.Read(ctx)
		ws.CloseNow()
		cancel()
		if websocket.CloseStatus(err) != websocket.StatusProtocolError {
			t.Fatalf("run %d: the client saw %v, want a 1002 close frame", i, err)
		}
	}
}
