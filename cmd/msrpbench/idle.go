package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/simplegw/simplegw/bridge/msrp"
	"github.com/simplegw/simplegw/cmd/internal/benchkit"
)

// RSS settling of the idle rows: the gateway's resident memory is sampled every
// settleInterval until it changed by less than settleTolerance over settleOver, for at most
// settleLimit.
const (
	settleInterval  = 250 * time.Millisecond
	settleOver      = 2 * time.Second
	settleLimit     = 15 * time.Second
	settleTolerance = 0.01
)

// idle measures what an idle, authenticated WebSocket connection costs the gateway: n
// browser-like clients connect to /msrp and AUTH (each holds a live relay URI, RFC 4976 §6.3),
// then sit still. Reported: the growth of the gateway's resident memory per connection, read
// once it is steady (settleInterval, settleOver, settleLimit); where it goes — goroutine
// stacks (StackInuse) and live heap (HeapInuse after a forced collection), read from the
// gateway's profiler; and goroutines per connection.
func idle(ctx context.Context, gw *gatewayProc, counts []int, stdout io.Writer) error {
	limit := raiseFileLimit(2*counts[len(counts)-1] + 1000)
	fmt.Fprintln(stdout, "\n| idle WebSocket connections (AUTHed) | connect+AUTH time | RSS steady after | gateway RSS growth | RSS per connection | stack per connection | heap in use per connection | goroutines per connection |")
	fmt.Fprintln(stdout, "|---:|---:|---:|---:|---:|---:|---:|---:|")
	rss := func() int64 { return gw.Status("VmRSS") }
	for run, want := range counts {
		// Each connection costs a descriptor here and one in the gateway; where the system
		// will not raise the limit (no CAP_SYS_RESOURCE), measure as many as fit and say so.
		n, label := want, strconv.Itoa(want)
		if fit := limit - 1000; n > fit && fit > 0 {
			n = fit
			label = fmt.Sprintf("%d (of %d: open-file limit %d)", n, want, limit)
		}
		// The baseline, once the previous size's connections have wound down; then the same
		// readings with the connections open. Each time a forced collection comes first
		// (with the MemStats), and the resident size is read once it has settled after it.
		m0, before, err := settle(ctx, gw, rss)
		if err != nil {
			return err
		}
		g0, err := goroutines(gw)
		if err != nil {
			return err
		}
		start := time.Now()
		conns, err := openIdle(ctx, gw.http, n, byte(1+run))
		if err != nil {
			closeAll(conns)
			return fmt.Errorf("%d idle connections: %w", n, err)
		}
		took := time.Since(start)
		m1, after, err := settle(ctx, gw, rss)
		if err != nil {
			closeAll(conns)
			return err
		}
		g1, err := goroutines(gw)
		closeAll(conns)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, idleRow(label, n, took, before, after, m0, m1, g1-g0))
	}
	return nil
}

// settle forces a garbage collection in the gateway and reads its MemStats (from the heap
// profile, gc=1), then waits until its resident size, sampled by rss, is steady.
func settle(ctx context.Context, gw *gatewayProc, rss func() int64) (benchkit.MemStats, benchkit.Settling, error) {
	m, err := benchkit.FetchMemStats(ctx, gw.pprof)
	if err != nil {
		return m, benchkit.Settling{}, fmt.Errorf("gateway heap profile: %w", err)
	}
	s, err := benchkit.WaitSteady(ctx, rss, settleInterval, settleOver, settleLimit, settleTolerance)
	return m, s, err
}

// idleRow formats one row of the idle table for n connections: growth from the settled
// baseline before to the settled reading after, and from MemStats m0 to m1.
func idleRow(label string, n int, took time.Duration, before, after benchkit.Settling, m0, m1 benchkit.MemStats, goroutines int) string {
	settled := fmt.Sprintf("%.2f s", after.After.Seconds())
	if !after.Steady {
		settled = fmt.Sprintf("not steady in %.0f s", after.After.Seconds())
	}
	perConn := func(d float64) string { return fmt.Sprintf("%.1f KiB", d/float64(n)/1024) }
	growth := float64(after.Value - before.Value)
	return fmt.Sprintf("| %s | %.1f s | %s | %.1f MiB | %s | %s | %s | %.2f |", label, took.Seconds(), settled, growth/(1<<20),
		perConn(growth), perConn(float64(m1.StackInuse)-float64(m0.StackInuse)),
		perConn(float64(m1.HeapInuse)-float64(m0.HeapInuse)), float64(goroutines)/float64(n))
}

func closeAll(conns []*websocket.Conn) {
	for _, c := range conns {
		c.CloseNow()
	}
}

// openIdle opens n AUTHed WebSocket connections, spreading their source addresses over
// 127.net.0.0/16 so that more than one address's worth of ephemeral ports can be used (and
// each run gets addresses whose ports the previous run's closed connections do not hold).
func openIdle(ctx context.Context, httpAddr string, n int, net8 byte) ([]*websocket.Conn, error) {
	const perAddr = 20000
	conns := make([]*websocket.Conn, n)
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	clients := map[int]*http.Client{}
	for i := 0; i < n; i++ {
		ip := i / perAddr
		if clients[ip] == nil {
			local := &net.TCPAddr{IP: net.IPv4(127, net8, 1, byte(1+ip))}
			d := &net.Dialer{LocalAddr: local}
			clients[ip] = &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
		}
		client := clients[ip]
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			ws, _, err := websocket.Dial(ctx, "ws://"+httpAddr+"/msrp", &websocket.DialOptions{Subprotocols: []string{"msrp"}, HTTPClient: client})
			if err == nil {
				w := &wsWire{ws: ws}
				self, _ := msrp.ParseURI("msrp://" + msrp.NewIdent() + ".invalid:2855/" + msrp.NewIdent() + ";ws")
				_, err = authenticate(w, self)
				conns[i] = ws
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}(i)
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
	}
	wg.Wait()
	var open []*websocket.Conn
	for _, c := range conns {
		if c != nil {
			open = append(open, c)
		}
	}
	return open, firstErr
}

// goroutines reads the gateway's goroutine count from its profiler (-pprof).
func goroutines(gw *gatewayProc) (int, error) {
	if gw.pprof == "" {
		return 0, fmt.Errorf("the gateway was started without -pprof")
	}
	resp, err := http.Get("http://" + gw.pprof + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b := make([]byte, 256)
	k, _ := io.ReadFull(resp.Body, b)
	first, _, _ := strings.Cut(string(b[:k]), "\n")
	v, ok := strings.CutPrefix(first, "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("profiler answered %q", first)
	}
	return strconv.Atoi(strings.TrimSpace(v))
}

// raiseFileLimit lifts this process's open-file limit (and so the gateway's, which inherits
// it) to at least n where the system allows, and returns the limit in force.
func raiseFileLimit(n int) int {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return n
	}
	if l.Cur < uint64(n) {
		want := syscall.Rlimit{Cur: uint64(n), Max: max(l.Max, uint64(n))}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil {
			l.Cur = l.Max
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
		}
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	return int(min(l.Cur, 1<<30))
}
