// Command msrpbench measures simplegw's MSRP relay against a baseline taken in the same run.
//
// It starts the real gateway binary (-gateway, port 0, waits for its ready line) and, as the
// baseline, a plain TCP splice proxy (io.Copy both ways) in a child process of its own. A load
// client sends SEND chunks with a fixed window of outstanding transactions; a sink peer on TCP
// counts what arrives and answers 200. Every row is the median of -runs runs and is printed
// with its ratio to the baseline carrying the same bytes.
//
// Scenarios:
//
//	ws-tcp   browser-like WebSocket client → relay → TCP peer (the relay answers the client,
//	         the peer answers the relay; RFC 4976 §6.4.1)
//	splice   the baseline: TCP client → splice proxy → TCP peer (the peer answers the client)
//
// Usage:
//
//	msrpbench [-gateway bin/simplegw] [-sizes 1024,4096] [-windows 1,8,32] [-runs 3] [-duration 2s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "splice" {
		os.Exit(runSplice(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	gwFlags  string
	transfer int64
	gateway  string
	sizes    []int
	windows  []int
	runs     int
	duration time.Duration
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("msrpbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var sizes, windows string
	fs.StringVar(&o.gateway, "gateway", "bin/simplegw", "path of the simplegw binary to measure")
	fs.StringVar(&sizes, "sizes", "1024,4096", "message body sizes in bytes, comma-separated")
	fs.StringVar(&windows, "windows", "1,8,32", "outstanding-transaction windows, comma-separated")
	fs.IntVar(&o.runs, "runs", 3, "runs per row; the median is reported")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "measuring time of one run")
	fs.StringVar(&o.gwFlags, "gateway-flags", "", "extra flags for the gateway, e.g. \"-pprof 127.0.0.1:6060\" to profile it")
	fs.Int64Var(&o.transfer, "transfer", 1<<30, "bytes of the single-file transfer rows (0 = skip them)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	if o.sizes, err = parseInts(sizes); err != nil {
		fmt.Fprintf(stderr, "msrpbench: -sizes: %v\n", err)
		return 2
	}
	if o.windows, err = parseInts(windows); err != nil {
		fmt.Fprintf(stderr, "msrpbench: -windows: %v\n", err)
		return 2
	}
	if o.runs < 1 || o.duration <= 0 {
		fmt.Fprintln(stderr, "msrpbench: -runs and -duration must be positive")
		return 2
	}
	if _, err := os.Stat(o.gateway); err != nil {
		fmt.Fprintf(stderr, "msrpbench: -gateway: %v (run `make build` first)\n", err)
		return 2
	}
	if err := bench(o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "msrpbench: %v\n", err)
		return 1
	}
	return 0
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// row is one line of the report.
type row struct {
	scenario     string
	size, window int
	rate         float64 // messages per second delivered to the sink (median)
	base         float64 // the baseline's rate for the same size and window (median)
}

func bench(o options, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gw, err := startGateway(ctx, o.gateway, strings.Fields(o.gwFlags))
	if err != nil {
		return err
	}
	defer gw.stop()
	sink, err := newSink()
	if err != nil {
		return err
	}
	defer sink.close()
	splice, err := startSplice(ctx, sink.addr())
	if err != nil {
		return err
	}
	defer splice.stop()

	hostname, _ := os.Hostname()
	fmt.Fprintf(stdout, "msrpbench %s — %s, %d CPUs (GOMAXPROCS %d), %s per run, median of %d runs\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), hostname, runtime.NumCPU(), runtime.GOMAXPROCS(0), o.duration, o.runs)
	fmt.Fprintln(stdout, "| scenario | size | window | msgs/s | MB/s | splice msgs/s | splice MB/s | ratio |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, size := range o.sizes {
		for _, w := range o.windows {
			r := row{scenario: "ws-tcp", size: size, window: w}
			var rates, bases []float64
			for i := 0; i < o.runs; i++ {
				// Alternate so that drift of the shared machine hits both alike.
				b, err := measure(ctx, func() (loadClient, error) { return dialTCPClient(splice.addr, sink.uri) }, sink, size, w, o.duration)
				if err != nil {
					return fmt.Errorf("splice baseline: %w", err)
				}
				bases = append(bases, b)
				v, err := measure(ctx, func() (loadClient, error) { return dialWSClient(ctx, gw.http, sink.uri) }, sink, size, w, o.duration)
				if err != nil {
					return fmt.Errorf("ws-tcp: %w", err)
				}
				rates = append(rates, v)
			}
			r.rate, r.base = median(rates), median(bases)
			mb := func(rate float64) float64 { return rate * float64(size) / 1e6 }
			fmt.Fprintf(stdout, "| %s | %d | %d | %.0f | %.1f | %.0f | %.1f | %.2f |\n",
				r.scenario, size, w, r.rate, mb(r.rate), r.base, mb(r.base), r.rate/r.base)
		}
	}
	fmt.Fprintf(stdout, "\ngateway peak RSS over the grid: %.1f MiB\n", float64(gw.peakRSS())/(1<<20))
	if o.transfer > 0 {
		if err := transfers(ctx, o, gw, sink, splice, stdout); err != nil {
			return err
		}
	}
	return nil
}

// transfers measures one large file each way: throughput, and how much the gateway's resident
// memory grows while it carries the file (it must stay flat: chunks stream through).
func transfers(ctx context.Context, o options, gw *gatewayProc, s *sink, sp *spliceProc, stdout io.Writer) error {
	mib := float64(o.transfer) / (1 << 20)
	fmt.Fprintf(stdout, "\n| transfer (%.0f MiB, one message) | MB/s | splice MB/s | ratio | gateway RSS before | peak during | growth |\n", mib)
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|---:|")
	base, err := transferSplice(ctx, sp.addr, s, o.transfer)
	if err != nil {
		return fmt.Errorf("splice transfer: %w", err)
	}
	baseRate := float64(o.transfer) / base.Seconds() / 1e6
	for _, tc := range []struct {
		name string
		run  func() (time.Duration, error)
	}{
		{"ws → tcp (64 KiB chunks, window 32)", func() (time.Duration, error) {
			return transferWSToTCP(ctx, gw.http, s, o.transfer, 64<<10, 32)
		}},
		{"tcp → ws (one chunk, re-chunked)", func() (time.Duration, error) {
			return transferTCPToWS(ctx, gw.http, gw.msrp, o.transfer)
		}},
	} {
		before := procStatus(gw.cmd.Process.Pid, "VmRSS")
		stop := make(chan struct{})
		peak := make(chan int64)
		go func() {
			p := before
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					peak <- p
					return
				case <-t.C:
					p = max(p, procStatus(gw.cmd.Process.Pid, "VmRSS"))
				}
			}
		}()
		d, err := tc.run()
		close(stop)
		pk := <-peak
		if err != nil {
			return fmt.Errorf("%s: %w", tc.name, err)
		}
		rate := float64(o.transfer) / d.Seconds() / 1e6
		fmt.Fprintf(stdout, "| %s | %.0f | %.0f | %.2f | %.1f MiB | %.1f MiB | %.1f MiB |\n", tc.name, rate, baseRate, rate/baseRate,
			float64(before)/(1<<20), float64(pk)/(1<<20), float64(pk-before)/(1<<20))
	}
	return nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// measure runs one client for d after a short warm-up and returns the messages per second
// the sink received in that time.
func measure(ctx context.Context, dial func() (loadClient, error), sink *sink, size, window int, d time.Duration) (float64, error) {
	c, err := dial()
	if err != nil {
		return 0, err
	}
	defer c.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- c.pump(ctx, size, window) }()
	warm := d / 4
	select {
	case err := <-errc:
		return 0, err
	case <-time.After(warm):
	}
	n0 := sink.count()
	t0 := time.Now()
	select {
	case err := <-errc:
		return 0, err
	case <-time.After(d):
	}
	n1 := sink.count()
	el := time.Since(t0)
	cancel()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, net.ErrClosed) {
		return 0, err
	}
	if n1 == n0 {
		return 0, errors.New("no message reached the sink")
	}
	return float64(n1-n0) / el.Seconds(), nil
}
