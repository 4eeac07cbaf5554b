// Command sipbench measures simplegw's SIP edge against a baseline taken in the same run.
//
// It starts the real gateway binary (-gateway, every port 0, embedded registrar in open demo
// mode on loopback, waits for its ready line), registers -clients browser-like WebSocket clients
// on /sip (RFC 7118; each REGISTER answers the registrar's digest challenge), and then sends
// page-mode MESSAGE requests (RFC 3428) from one plain SIP client on UDP and one on TCP to the
// registered AORs in turn. The gateway proxies each MESSAGE to the client's WebSocket; the
// client answers 200, which the gateway proxies back (RFC 3261 §16.7). The load client keeps
// -windows outstanding transactions, retransmits on UDP (RFC 3261 §17.1.2.2, Timer E) and
// measures each transaction from its first send to its final response.
//
// The baseline is the same load client against a trivial SIP responder (this program
// re-executed as "sipbench responder") that answers every MESSAGE with 200 itself, parsing
// and building messages with the same sipgo code as the WebSocket clients: the cost of the
// client, the parser and the loopback without a proxy hop in between.
//
// Every row is the median of -runs runs (MESSAGE/s, p50 and p99 latency each taken as the
// median over the runs) and is printed beside its baseline with ratios, as a markdown table.
// Each run is bounded by -duration (after a warm-up of a quarter of it) and by -count
// transactions; only 127.0.0.1 is used.
//
// Usage:
//
//	sipbench [-gateway bin/simplegw] [-clients 100] [-transports udp,tcp] [-windows 1,32]
//	         [-runs 3] [-duration 2s] [-count 1000000] [-size 100] [-gateway-flags "..."]
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/simplegw/simplegw/cmd/internal/benchkit"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "responder" {
		os.Exit(runResponder(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// domain is the gateway's -domain: the AORs' domain and the digest realm.
const domain = "localhost"

type options struct {
	gateway    string
	gwFlags    string
	clients    int
	transports []string
	windows    []int
	runs       int
	duration   time.Duration
	count      int
	size       int
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sipbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var transports, windows string
	fs.StringVar(&o.gateway, "gateway", "bin/simplegw", "path of the simplegw binary to measure")
	fs.StringVar(&o.gwFlags, "gateway-flags", "", "extra flags for the gateway, e.g. \"-pprof 127.0.0.1:6060\"")
	fs.IntVar(&o.clients, "clients", 100, "WebSocket clients registered at the gateway; MESSAGEs go to them in turn")
	fs.StringVar(&transports, "transports", "udp,tcp", "transports of the load client, comma-separated: udp, tcp")
	fs.StringVar(&windows, "windows", "1,32", "outstanding MESSAGE transactions of the load client, comma-separated")
	fs.IntVar(&o.runs, "runs", 3, "runs per row; the median is reported")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "measuring time of one run (after a warm-up of a quarter of it)")
	fs.IntVar(&o.count, "count", 1_000_000, "at most this many MESSAGEs per run, warm-up included")
	fs.IntVar(&o.size, "size", 100, "MESSAGE body size in bytes")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	if o.windows, err = benchkit.ParseInts(windows); err != nil {
		fmt.Fprintf(stderr, "sipbench: -windows: %v\n", err)
		return 2
	}
	for _, t := range strings.Split(transports, ",") {
		t = strings.TrimSpace(t)
		if t != "udp" && t != "tcp" {
			fmt.Fprintf(stderr, "sipbench: -transports: %q is neither udp nor tcp\n", t)
			return 2
		}
		o.transports = append(o.transports, t)
	}
	if o.runs < 1 || o.duration <= 0 || o.count < 1 || o.clients < 1 || o.size < 0 || o.size > 60000 {
		fmt.Fprintln(stderr, "sipbench: -runs, -duration, -count and -clients must be positive, -size 0-60000")
		return 2
	}
	if _, err := os.Stat(o.gateway); err != nil {
		fmt.Fprintf(stderr, "sipbench: -gateway: %v (run `make build` first)\n", err)
		return 2
	}
	if err := bench(o, stdout); err != nil {
		fmt.Fprintf(stderr, "sipbench: %v\n", err)
		return 1
	}
	return 0
}

func bench(o options, stdout io.Writer) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gw, err := benchkit.StartGateway(ctx, o.gateway, append([]string{"-domain", domain}, strings.Fields(o.gwFlags)...)...)
	if err != nil {
		return err
	}
	defer gw.Stop()
	rsp, err := startResponder(ctx)
	if err != nil {
		return err
	}
	defer rsp.stop()
	ws, err := registerClients(ctx, gw.Addrs["http"], o.clients)
	if err != nil {
		return err
	}
	defer ws.close()

	hostname, _ := os.Hostname()
	fmt.Fprintf(stdout, "sipbench %s — %s, %d CPUs (GOMAXPROCS %d), %d registered WebSocket clients, %d-byte bodies, %s per run, median of %d runs\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), hostname, runtime.NumCPU(), runtime.GOMAXPROCS(0),
		o.clients, o.size, o.duration, o.runs)
	fmt.Fprintln(stdout, "| path | window | MESSAGE/s | p50 ms | p99 ms | lost/retx | baseline MESSAGE/s | baseline p50 ms | baseline p99 ms | rate ratio | p50 ratio |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, tp := range o.transports {
		gwAddr, baseAddr := gw.Addrs["sip"], rsp.udp
		if tp == "tcp" {
			baseAddr = rsp.tcp
		}
		for _, w := range o.windows {
			var gwRuns, baseRuns []loadResult
			for i := 0; i < o.runs; i++ {
				// Alternate so that drift of the shared machine hits both alike.
				b, err := runLoad(ctx, loadConfig{transport: tp, addr: baseAddr, users: ws.users, window: w,
					size: o.size, duration: o.duration, count: o.count})
				if err != nil {
					return fmt.Errorf("%s baseline: %w", tp, err)
				}
				baseRuns = append(baseRuns, b)
				g, err := runLoad(ctx, loadConfig{transport: tp, addr: gwAddr, users: ws.users, window: w,
					size: o.size, duration: o.duration, count: o.count})
				if err != nil {
					return fmt.Errorf("%s through the gateway: %w", tp, err)
				}
				gwRuns = append(gwRuns, g)
			}
			g, b := summarize(gwRuns), summarize(baseRuns)
			fmt.Fprintf(stdout, "| %s → gateway → ws | %d | %.0f | %.3f | %.3f | %d/%d | %.0f | %.3f | %.3f | %.2f | %.2f |\n",
				tp, w, g.rate, ms(g.p50), ms(g.p99), g.lost, g.retx, b.rate, ms(b.p50), ms(b.p99),
				g.rate/b.rate, float64(g.p50)/float64(b.p50))
		}
	}
	if n := ws.errors.Load(); n > 0 {
		fmt.Fprintf(stdout, "\nWebSocket clients received %d requests they could not parse\n", n)
	}
	fmt.Fprintf(stdout, "\nMESSAGEs answered by the WebSocket clients: %d; gateway peak RSS: %.1f MiB\n",
		ws.answered.Load(), float64(gw.Status("VmHWM"))/(1<<20))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// summary is a row: the median over runs of each measure, and the sums of
// lost transactions and retransmissions.
type summary struct {
	rate       float64
	p50, p99   time.Duration
	lost, retx int
}

func summarize(runs []loadResult) summary {
	var s summary
	var rates []float64
	var p50s, p99s []time.Duration
	for _, r := range runs {
		rates = append(rates, r.rate())
		p50s = append(p50s, r.percentile(0.50))
		p99s = append(p99s, r.percentile(0.99))
		s.lost += r.lost
		s.retx += r.retransmissions
	}
	s.rate = benchkit.Median(rates)
	s.p50 = time.Duration(benchkit.Median(durations(p50s)))
	s.p99 = time.Duration(benchkit.Median(durations(p99s)))
	return s
}

func durations(d []time.Duration) []float64 {
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = float64(v)
	}
	return out
}
