package main

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/simplegw/simplegw/gateway"
)

// startInProcess runs the real gateway (the same wiring as bin/simplegw) in
// open demo mode on 127.0.0.1.
func startInProcess(t *testing.T) *gateway.Gateway {
	t.Helper()
	g, err := gateway.New(gateway.Config{
		HTTPAddr: "127.0.0.1:0", MSRPAddr: "127.0.0.1:0", SIPAddr: "127.0.0.1:0", Domain: domain,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	return g
}

// Every MESSAGE the load client sends over UDP and TCP through the gateway
// reaches a registered WebSocket client, and every 200 comes back: the
// counts match exactly, nothing is lost.
func TestLoadThroughGateway(t *testing.T) {
	g := startInProcess(t)
	ctx := t.Context()
	cs, err := registerClients(ctx, g.Addrs().HTTP, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.close()
	const count = 300
	for i, tp := range []string{"udp", "tcp"} {
		res, err := runLoad(ctx, loadConfig{transport: tp, addr: g.Addrs().SIP, users: cs.users,
			window: 16, size: 64, duration: 30 * time.Second, count: count})
		if err != nil {
			t.Fatalf("%s: %v", tp, err)
		}
		if res.answered != count || res.lost != 0 {
			t.Errorf("%s: %d answered, %d lost; want %d answered, none lost", tp, res.answered, res.lost, count)
		}
		if got := cs.answered.Load(); got < int64((i+1)*count) {
			t.Errorf("%s: the WebSocket clients answered %d MESSAGEs in all, want at least %d", tp, got, (i+1)*count)
		}
	}
	if n := cs.errors.Load(); n != 0 {
		t.Errorf("the WebSocket clients failed on %d requests", n)
	}
}

// The baseline responder answers every MESSAGE on UDP and TCP.
func TestLoadAgainstResponder(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- serveResponder(pc, ln) }()
	defer func() {
		pc.Close()
		if err := <-served; !errors.Is(err, net.ErrClosed) {
			t.Errorf("responder: %v", err)
		}
	}()
	const count = 500
	for tp, addr := range map[string]string{"udp": pc.LocalAddr().String(), "tcp": ln.Addr().String()} {
		res, err := runLoad(t.Context(), loadConfig{transport: tp, addr: addr, users: []string{"a", "b"},
			window: 8, size: 10, duration: 30 * time.Second, count: count})
		if err != nil {
			t.Fatalf("%s: %v", tp, err)
		}
		if res.answered != count || res.lost != 0 {
			t.Errorf("%s: %d answered, %d lost; want %d answered, none lost", tp, res.answered, res.lost, count)
		}
	}
}

// A run against a UDP peer that never answers retransmits (RFC 3261
// §17.1.2.2) and counts the transaction as lost instead of stalling.
func TestLoadCountsLoss(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	res, err := runLoad(t.Context(), loadConfig{transport: "udp", addr: pc.LocalAddr().String(), users: []string{"a"},
		window: 1, size: 0, duration: 30 * time.Second, count: 1, lostAfter: 2 * time.Second})
	if err == nil {
		t.Fatal("a run without any answer succeeded")
	}
	// Sent at 0, again after T1 and after 2*T1 more (RFC 3261 §17.1.2.2),
	// given up at 4*T1: two retransmissions on an idle machine, at least
	// the first on any.
	if res.lost != 1 || res.retransmissions < 1 || res.retransmissions > 2 {
		t.Errorf("%d lost, %d retransmissions; want 1 lost after 1 or 2 retransmissions", res.lost, res.retransmissions)
	}
}

func TestPercentileAndMedian(t *testing.T) {
	var r loadResult
	if r.percentile(0.5) != 0 {
		t.Error("percentile of nothing")
	}
	for i := 1; i <= 100; i++ {
		r.latencies = append(r.latencies, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := r.percentile(tc.p); got != tc.want {
			t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-windows", "0"},
		{"-transports", "sctp"},
		{"-runs", "0"},
		{"-gateway", "/nonexistent/simplegw"},
	} {
		if code := run(args, discard{}, discard{}); code != 2 {
			t.Errorf("sipbench %v: exit %d, want 2", args, code)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
