// Command msrpbench measures simplegw's MSRP relay against a baseline taken in the same run.
//
// It starts the real gateway binary (-gateway, port 0, waits for its ready line) and, as the
// baseline, a plain TCP splice proxy (io.Copy both ways) in a child process of its own. A load
// client sends SEND chunks with a fixed window of outstanding transactions; a sink peer on TCP
// counts what arrives and answers 200. Every row is the median of -runs runs — within a run the
// splice and every scenario are measured in turn, so drift of a shared machine hits all alike —
// and is printed with its ratio to the baseline carrying the same bytes.
//
// Scenarios (the relay answers the sender at once and the receiver answers the relay, RFC 4976
// §6.4.1):
//
//	ws-tcp    a browser-like client AUTHed on WebSocket → relay → a plain TCP peer
//	tcp-ws    a plain TCP peer → relay → a browser-like client AUTHed on WebSocket
//	tcp-tcp   a plain TCP peer → relay → a native client AUTHed over TCP (the row comparable
//	          with Kamailio's and OpenSIPS's MSRP relays)
//	kamailio  the same as tcp-tcp through Debian's kamailio (msrp module, config
//	          testdata/kamailio-msrp.cfg) instead of the gateway; measured when kamailio is
//	          installed, its rows marked "fails" with the reason where it cannot carry them
//	splice    the baseline: TCP client → splice proxy → TCP peer (the peer answers the client)
//
// With kamailio measured, the tcp-tcp rows also carry their ratio to it.
//
// A second table gives, for every row and the splice, what the relaying process(es) spent per
// delivered message over the same measuring window: CPU time (utime+stime, /proc/PID/stat)
// and read- and write-like system calls (syscr+syscw, /proc/PID/io) of the gateway, of every
// process of Kamailio's process group, or of the splice proxy; with kamailio measured, the
// tcp-tcp rows also carry Kamailio's CPU per message ÷ ours. On a small machine the load
// generator shares the cores with the relay, so the rates are capped by the generator; the
// cost per message is the relay's own.
//
// Then latency at fixed offered rates (-rates): 1 KiB SENDs on an open-loop schedule through
// the splice, ws-tcp and tcp-tcp; each message's latency runs from its scheduled send time to
// its arrival at the receiver (one process, one monotonic clock), reported as p50/p99/p99.9
// and as what the relay adds to the splice.
//
// Then idle connections (-idle): the gateway's resident memory per AUTHed WebSocket
// connection once it is steady, split into goroutine stacks and live heap from the gateway's
// MemStats, and goroutines per connection.
//
// Usage:
//
//	msrpbench [-gateway bin/simplegw] [-scenarios ws-tcp,tcp-ws,tcp-tcp,kamailio]
//	          [-sizes 1024,4096,65536] [-windows 1,8,32] [-runs 3] [-duration 2s]
//	          [-rates 1000,5000,10000] [-transfer 1073741824] [-idle 1000,10000]
//	          [-kamailio-config testdata/kamailio-msrp.cfg]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/simplegw/simplegw/bridge/msrp"
	"github.com/simplegw/simplegw/cmd/internal/benchkit"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "splice" {
		os.Exit(runSplice(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	idle        []int
	scenarios   []string
	gwFlags     string
	transfer    int64
	gateway     string
	kamailioCfg string
	kamWorkers  int
	sizes       []int
	windows     []int
	rates       []int
	runs        int
	duration    time.Duration
}

// defaultScenarios are the rows measured without -scenarios ("kamailio" only when it is
// installed).
var defaultScenarios = []string{"ws-tcp", "tcp-ws", "tcp-tcp", "kamailio"}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("msrpbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var sizes, windows, scens, idleCounts, rates string
	fs.StringVar(&o.gateway, "gateway", "bin/simplegw", "path of the simplegw binary to measure")
	fs.StringVar(&idleCounts, "idle", "1000,10000", "idle AUTHed WebSocket connection counts to measure, comma-separated (\"\" = skip); each needs two open files, so counts past half the hard RLIMIT_NOFILE are cut to what fits")
	fs.StringVar(&scens, "scenarios", strings.Join(defaultScenarios, ","), "rows to measure: ws-tcp, tcp-ws, tcp-tcp, kamailio (skipped with a note when kamailio is not installed)")
	fs.StringVar(&o.kamailioCfg, "kamailio-config", "testdata/kamailio-msrp.cfg", "Kamailio config of the kamailio rows")
	fs.IntVar(&o.kamWorkers, "kamailio-workers", kamailioWorkers(runtime.NumCPU()), "TCP worker processes of the kamailio baseline")
	fs.StringVar(&rates, "rates", "1000,5000,10000", "offered rates (msgs/s) of the latency rows, comma-separated (\"\" = skip them)")
	fs.StringVar(&sizes, "sizes", "1024,4096,65536", "message body sizes in bytes, comma-separated")
	fs.StringVar(&windows, "windows", "1,8,32", "outstanding-transaction windows, comma-separated")
	fs.IntVar(&o.runs, "runs", 3, "runs per row; the median is reported")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "measuring time of one run")
	fs.StringVar(&o.gwFlags, "gateway-flags", "", "extra flags for the gateway, e.g. \"-pprof 127.0.0.1:6060\" to profile it")
	fs.Int64Var(&o.transfer, "transfer", 1<<30, "bytes of the single-file transfer rows (0 = skip them)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	if o.sizes, err = benchkit.ParseInts(sizes); err != nil {
		fmt.Fprintf(stderr, "msrpbench: -sizes: %v\n", err)
		return 2
	}
	if o.windows, err = benchkit.ParseInts(windows); err != nil {
		fmt.Fprintf(stderr, "msrpbench: -windows: %v\n", err)
		return 2
	}
	for _, name := range strings.Split(scens, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		if !slices.Contains(defaultScenarios, name) {
			fmt.Fprintf(stderr, "msrpbench: -scenarios: unknown scenario %q\n", name)
			return 2
		}
		o.scenarios = append(o.scenarios, name)
	}
	if rates != "" {
		if o.rates, err = benchkit.ParseInts(rates); err != nil {
			fmt.Fprintf(stderr, "msrpbench: -rates: %v\n", err)
			return 2
		}
	}
	if idleCounts != "" {
		if o.idle, err = benchkit.ParseInts(idleCounts); err != nil {
			fmt.Fprintf(stderr, "msrpbench: -idle: %v\n", err)
			return 2
		}
		sort.Ints(o.idle)
	}
	if o.runs < 1 || o.duration <= 0 || o.kamWorkers < 1 {
		fmt.Fprintln(stderr, "msrpbench: -runs, -duration and -kamailio-workers must be positive")
		return 2
	}
	if _, err := os.Stat(o.gateway); err != nil {
		fmt.Fprintf(stderr, "msrpbench: -gateway: %v (run `make build` first)\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "msrpbench: %v\n", err)
		return 1
	}
	return 0
}

// scenario is one kind of row: how the sender and the receiver attach to the gateway.
type scenario struct {
	name string
	// setup returns the sending side and the receiver's counter; cleanup closes both.
	setup func(ctx context.Context) (*sender, *counter, func(), error)
	// usage reads what the row's relaying process(es) have spent so far; nil when there is
	// nothing to read (the row's costs are then reported as unknown).
	usage func() (benchkit.Usage, error)
}

// pidUsage reads what process pid has spent so far.
func pidUsage(pid int) func() (benchkit.Usage, error) {
	return func() (benchkit.Usage, error) { return benchkit.ReadUsage(pid) }
}

// plainPeer connects a plain TCP MSRP peer (the sending side of a measurement) to addr.
func plainPeer(addr string) (*sender, error) {
	w, err := dialTCP(addr)
	if err != nil {
		return nil, err
	}
	from, _ := msrp.ParseURI("msrp://127.0.0.1:9/" + msrp.NewIdent() + ";tcp")
	return &sender{w: w, from: from}, nil
}

// toClient is the setup of a row in which a plain TCP peer sends through a relay to a client
// AUTHed at it over transport; relay returns the address the client connects to and the one
// the peer connects to.
func toClient(transport string, relay func() (client, peer string, err error)) func(ctx context.Context) (*sender, *counter, func(), error) {
	return func(ctx context.Context) (*sender, *counter, func(), error) {
		clientAddr, peerAddr, err := relay()
		if err != nil {
			return nil, nil, nil, err
		}
		rc, err := newRelayClient(ctx, transport, clientAddr)
		if err != nil {
			return nil, nil, nil, err
		}
		rc.receive()
		snd, err := plainPeer(peerAddr)
		if err != nil {
			rc.close()
			return nil, nil, nil, err
		}
		snd.to = rc.path()
		return snd, &rc.counter, func() { snd.w.close(); rc.close() }, nil
	}
}

// kamailioScenario is the tcp-tcp row through the Kamailio baseline k, restarted first if it
// has exited.
func kamailioScenario(k *kamailioProc) scenario {
	return scenario{"kamailio", toClient("tcp", func() (string, string, error) {
		if err := k.ensure(); err != nil {
			return "", "", fmt.Errorf("kamailio restart: %w", err)
		}
		return k.addr, k.addr, nil
	}), k.usage}
}

// scenarios returns every kind of row; "kamailio" only when k is not nil.
func scenarios(gw *gatewayProc, s *sink, sp *spliceProc, k *kamailioProc) map[string]scenario {
	gateway := func(client string) func() (string, string, error) {
		return func() (string, string, error) { return client, gw.msrp, nil }
	}
	gwUsage := pidUsage(gw.Cmd.Process.Pid)
	all := map[string]scenario{
		"splice": {"splice", func(ctx context.Context) (*sender, *counter, func(), error) {
			snd, err := plainPeer(sp.addr)
			if err != nil {
				return nil, nil, nil, err
			}
			snd.to = s.path()
			return snd, &s.counter, snd.w.close, nil
		}, pidUsage(sp.cmd.Process.Pid)},
		"ws-tcp": {"ws-tcp", func(ctx context.Context) (*sender, *counter, func(), error) {
			rc, err := newRelayClient(ctx, "ws", gw.http)
			if err != nil {
				return nil, nil, nil, err
			}
			snd := &sender{w: rc.w, from: rc.self, to: []msrp.URI{rc.use, s.uri}}
			return snd, &s.counter, rc.close, nil
		}, gwUsage},
		"tcp-ws":  {"tcp-ws", toClient("ws", gateway(gw.http)), gwUsage},
		"tcp-tcp": {"tcp-tcp", toClient("tcp", gateway(gw.msrp)), gwUsage},
	}
	if k != nil {
		all["kamailio"] = kamailioScenario(k)
	}
	return all
}

func bench(ctx context.Context, o options, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The Kamailio baseline, when asked for and installed.
	var kam *kamailioProc
	var kamNote string
	if i := slices.Index(o.scenarios, "kamailio"); i >= 0 {
		bin := findKamailio()
		if bin == "" {
			kamNote = "kamailio: not installed, row skipped"
		} else if k, err := startKamailio(bin, o.kamailioCfg, o.kamWorkers); err != nil {
			kamNote = "kamailio: did not start, row skipped: " + oneLine(err)
			fmt.Fprintf(stderr, "msrpbench: %v\n", err)
		} else {
			kam = k
			defer kam.stop()
			kamNote = fmt.Sprintf("kamailio: %s (%s), %d TCP workers, config %s", bin, kamailioVersion(bin), k.workers, o.kamailioCfg)
		}
		if kam == nil {
			o.scenarios = slices.Delete(slices.Clone(o.scenarios), i, i+1)
		}
	}

	if len(o.idle) > 0 {
		raiseFileLimit(2*o.idle[len(o.idle)-1] + 1000) // before the gateway starts: it inherits the limit
	}
	gw, err := startGateway(ctx, o.gateway, strings.Fields(o.gwFlags))
	if err != nil {
		return err
	}
	defer gw.Stop()
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
	all := scenarios(gw, sink, splice, kam)

	hostname, _ := os.Hostname()
	fmt.Fprintf(stdout, "msrpbench %s — %s, %d CPUs (GOMAXPROCS %d), %s per run, median of %d runs\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), hostname, runtime.NumCPU(), runtime.GOMAXPROCS(0), o.duration, o.runs)
	if kamNote != "" {
		fmt.Fprintln(stdout, kamNote+"\n")
	}
	if len(o.scenarios) > 0 {
		if err := grid(ctx, o, all, kam, stdout, stderr); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\ngateway peak RSS over the grid: %.1f MiB\n", float64(gw.peakRSS())/(1<<20))
	}
	if len(o.rates) > 0 {
		if err := latencies(ctx, o, all, stdout); err != nil {
			return err
		}
	}
	if o.transfer > 0 {
		if err := transfers(ctx, o, gw, sink, splice, stdout); err != nil {
			return err
		}
	}
	if len(o.idle) > 0 {
		if err := idle(ctx, gw, o.idle, stdout); err != nil {
			return err
		}
	}
	return nil
}

// grid measures every scenario at every size and window and prints two tables: the rates,
// cell by cell as they are measured, then what the relaying process(es) spent per message.
// A row of the gateway that fails ends the report; a Kamailio row that fails is printed as
// failing, with the reason, and the tail of Kamailio's log goes to stderr.
func grid(ctx context.Context, o options, all map[string]scenario, kam *kamailioProc, stdout, stderr io.Writer) error {
	withKam := kam != nil && slices.Contains(o.scenarios, "kamailio")
	head := "| scenario | size | window | msgs/s | MB/s | splice msgs/s | splice MB/s | ratio |"
	rule := "|---|---:|---:|---:|---:|---:|---:|---:|"
	costHead := "| scenario | size | window | CPU µs/msg | syscalls/msg |"
	costRule := "|---|---:|---:|---:|---:|"
	if withKam {
		head += " kamailio msgs/s | vs kamailio |"
		rule += "---:|---:|"
		costHead += " CPU vs kamailio |"
		costRule += "---:|"
	}
	fmt.Fprintln(stdout, head)
	fmt.Fprintln(stdout, rule)
	costs := []string{costHead, costRule}
	costNoted := map[string]bool{} // rows whose usage could not be read, said once on stderr
	for _, size := range o.sizes {
		mb := func(rate float64) float64 { return rate * float64(size) / 1e6 }
		for _, w := range o.windows {
			runs := map[string]*rowRuns{"splice": {}}
			for _, name := range o.scenarios {
				runs[name] = &rowRuns{}
			}
			for i := 0; i < o.runs; i++ {
				// The baseline, then each scenario in turn.
				b, err := measure(ctx, all["splice"], size, w, o.duration)
				if err != nil {
					return fmt.Errorf("splice baseline: %w", err)
				}
				runs["splice"].add(b)
				for _, name := range o.scenarios {
					r := runs[name]
					if r.fail != nil {
						continue
					}
					v, err := measure(ctx, all[name], size, w, o.duration)
					if err != nil && (name != "kamailio" || ctx.Err() != nil) {
						return fmt.Errorf("%s: %w", name, err)
					}
					if err != nil {
						r.fail = err
						fmt.Fprintf(stderr, "msrpbench: kamailio, %d bytes, window %d: %v\n--- kamailio log (tail) ---\n%s\n---\n", size, w, err, kam.tail(15))
						continue
					}
					r.add(v)
				}
			}
			for name, r := range runs {
				if r.costErr != nil && !costNoted[name] {
					costNoted[name] = true
					fmt.Fprintf(stderr, "msrpbench: %s: no CPU and system call figures: %v\n", name, r.costErr)
				}
			}
			base := benchkit.Median(runs["splice"].rates)
			kr := runs["kamailio"]
			cell := fmt.Sprintf("| %%s | %d | %d |", size, w)
			costs = append(costs, fmt.Sprintf(cell, "splice")+runs["splice"].costCells())
			if withKam {
				costs[len(costs)-1] += "  |"
			}
			for _, name := range o.scenarios {
				r := runs[name]
				fmt.Fprintf(stdout, cell, name)
				if r.fail != nil {
					fmt.Fprintf(stdout, " fails: %s | – | %.0f | %.1f | – |", oneLine(r.fail), base, mb(base))
				} else {
					rate := benchkit.Median(r.rates)
					fmt.Fprintf(stdout, " %.0f | %.1f | %.0f | %.1f | %.2f |", rate, mb(rate), base, mb(base), rate/base)
				}
				row := fmt.Sprintf(cell, name) + r.costCells()
				switch {
				case !withKam:
				case name != "tcp-tcp":
					fmt.Fprint(stdout, "  |  |")
					row += "  |"
				case kr.fail != nil:
					fmt.Fprint(stdout, " fails | – |")
					row += " – |"
				default:
					fmt.Fprintf(stdout, " %.0f | %.2f |", benchkit.Median(kr.rates), benchkit.Median(r.rates)/benchkit.Median(kr.rates))
					row += " " + cpuRatio(kr, r) + " |"
				}
				fmt.Fprintln(stdout)
				costs = append(costs, row)
			}
		}
	}
	fmt.Fprint(stdout, "\nCost per delivered message of the relaying process (the gateway; Kamailio: all its processes; splice: the proxy)"+
		" over each run's measuring window. CPU µs: user+system time. syscalls: read- and write-like calls as /proc/PID/io"+
		" counts them (syscr+syscw), without send/recv, splice, epoll or futex calls: the splice copies with splice(2) and"+
		" Kamailio sends with sendto(2), so for them it counts only what they read(2).")
	if withKam {
		fmt.Fprint(stdout, " CPU vs kamailio: Kamailio's CPU per message ÷ ours (how many times more messages we relay per CPU second).")
	}
	fmt.Fprint(stdout, "\n\n")
	for _, row := range costs {
		fmt.Fprintln(stdout, row)
	}
	return nil
}

// rowRuns gathers the runs of one row of one grid cell.
type rowRuns struct {
	rates    []float64 // msgs/s
	cpu, sys []float64 // CPU µs and system calls per message, of the runs whose usage was read
	costErr  error     // why the usage of a run could not be read
	fail     error     // why the row failed (Kamailio only)
}

func (r *rowRuns) add(s sample) {
	r.rates = append(r.rates, s.rate)
	if s.costErr != nil {
		r.costErr = s.costErr
		return
	}
	cpu, sys := s.perMessage()
	r.cpu = append(r.cpu, cpu)
	r.sys = append(r.sys, sys)
}

// costCells are the row's "CPU µs/msg | syscalls/msg |" cells: medians over the runs, "–"
// when no run's usage was read, "fails" for a failed row.
func (r *rowRuns) costCells() string {
	switch {
	case r.fail != nil:
		return " fails | – |"
	case len(r.cpu) == 0:
		return " – | – |"
	}
	return fmt.Sprintf(" %.1f | %.2f |", benchkit.Median(r.cpu), benchkit.Median(r.sys))
}

// cpuRatio is Kamailio's CPU per message ÷ ours: how many times more messages ours relays per
// CPU second; "–" when either is unknown or ours is zero.
func cpuRatio(kam, ours *rowRuns) string {
	if len(kam.cpu) == 0 || len(ours.cpu) == 0 {
		return "–"
	}
	k, o := benchkit.Median(kam.cpu), benchkit.Median(ours.cpu)
	if o <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", k/o)
}

// transfers measures one large file each way: throughput, and how much the gateway's resident
// memory grows while it carries the file (it must stay flat: chunks stream through).
func transfers(ctx context.Context, o options, gw *gatewayProc, s *sink, sp *spliceProc, stdout io.Writer) error {
	mib := float64(o.transfer) / (1 << 20)
	fmt.Fprintf(stdout, "\n| transfer (%.0f MiB, one message) | MB/s | splice MB/s | ratio | gateway RSS before | peak during | growth |\n", mib)
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|---:|")
	all := scenarios(gw, s, sp, nil)
	run := func(sc scenario, chunk int64, window int) (time.Duration, error) {
		snd, cnt, cleanup, err := sc.setup(ctx)
		if err != nil {
			return 0, err
		}
		defer cleanup()
		from := cnt.bytes.Load()
		start := time.Now()
		if err := snd.sendFile(ctx, o.transfer, chunk, window); err != nil {
			return 0, err
		}
		if err := waitBytes(ctx, cnt, from, o.transfer); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	}
	base, err := run(all["splice"], o.transfer, 1)
	if err != nil {
		return fmt.Errorf("splice transfer: %w", err)
	}
	baseRate := float64(o.transfer) / base.Seconds() / 1e6
	for _, tc := range []struct {
		name   string
		sc     scenario
		chunk  int64
		window int
	}{
		{"ws → tcp (64 KiB chunks, window 32)", all["ws-tcp"], 64 << 10, 32},
		{"tcp → ws (one chunk, re-chunked by the relay)", all["tcp-ws"], o.transfer, 1},
		{"tcp → tcp (one chunk)", all["tcp-tcp"], o.transfer, 1},
	} {
		before := gw.Status("VmRSS")
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
					p = max(p, gw.Status("VmRSS"))
				}
			}
		}()
		d, err := run(tc.sc, tc.chunk, tc.window)
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

// sample is one run of one row: what its receiver counted over the measuring window, and what
// the row's relaying process(es) spent over the same window.
type sample struct {
	rate    float64        // messages per second
	msgs    int64          // messages counted in the window
	cost    benchkit.Usage // spent by the relaying process(es); unknown when costErr is set
	costErr error
}

// perMessage is the sample's CPU µs and system calls per message.
func (s sample) perMessage() (cpuMicros, syscalls float64) { return s.cost.PerMessage(s.msgs) }

// errNoUsage is the cost of a row with nothing to read it from.
var errNoUsage = errors.New("the row names no relaying process")

// measure runs one scenario for d after a short warm-up and returns the messages per second
// its receiver counted in that time, and what the relaying process(es) spent meanwhile (read
// just after each count, so both cover the same window).
func measure(ctx context.Context, sc scenario, size, window int, d time.Duration) (sample, error) {
	usage := sc.usage
	if usage == nil {
		usage = func() (benchkit.Usage, error) { return benchkit.Usage{}, errNoUsage }
	}
	snd, cnt, cleanup, err := sc.setup(ctx)
	if err != nil {
		return sample{}, err
	}
	defer cleanup()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- snd.pump(pctx, size, window) }()
	select {
	case err := <-errc:
		return sample{}, err
	case <-time.After(d / 4):
	case <-ctx.Done():
		return sample{}, ctx.Err()
	}
	n0, t0 := cnt.n.Load(), time.Now()
	u0, err0 := usage()
	select {
	case err := <-errc:
		return sample{}, err
	case <-time.After(d):
	case <-ctx.Done():
		return sample{}, ctx.Err()
	}
	n1, el := cnt.n.Load(), time.Since(t0)
	u1, err1 := usage()
	cancel()
	if err := <-errc; err != nil && !errors.Is(err, net.ErrClosed) {
		return sample{}, err
	}
	if n1 == n0 {
		return sample{}, snd.diagnose()
	}
	return sample{rate: float64(n1-n0) / el.Seconds(), msgs: n1 - n0, cost: u1.Sub(u0), costErr: errors.Join(err0, err1)}, nil
}
