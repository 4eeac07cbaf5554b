package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/simplegw/simplegw/cmd/internal/benchkit"
)

// The baseline proxy is this program re-executed with "splice"; under `go test` the test
// binary plays that part.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "splice" {
		os.Exit(runSplice(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// TestReport runs the benchmark program briefly against the real gateway binary and checks
// that every requested row is measured and compared with the baseline. It asserts the shape
// of the report, never a speed.
func TestReport(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "simplegw")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/simplegw/simplegw/cmd/simplegw").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"-gateway", bin, "-scenarios", "ws-tcp,tcp-ws,tcp-tcp", "-runs", "1", "-duration", "150ms",
		"-sizes", "1024", "-windows", "4", "-rates", "2000", "-transfer", "3000000", "-idle", "20"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	row := regexp.MustCompile(`(?m)^\| (ws-tcp|tcp-ws|tcp-tcp) \| 1024 \| 4 \| [1-9][0-9]* \| [0-9.]+ \| [1-9][0-9]* \| [0-9.]+ \| [0-9]+\.[0-9]{2} \|$`)
	if got := len(row.FindAllString(out, -1)); got != 3 {
		t.Fatalf("want 3 measured rows, got %d:\n%s", got, out)
	}
	// Latency rows: the baseline, then each path with what it adds (which may be negative).
	lat := regexp.MustCompile(`(?m)^\| (splice|ws-tcp|tcp-tcp) \| 2000 \| [1-9][0-9]* \| [0-9]+\.[0-9]{3} \| [0-9]+\.[0-9]{3} \| [0-9]+\.[0-9]{3} \| (– \| – \| –|-?[0-9]+\.[0-9]{3} \| -?[0-9]+\.[0-9]{3} \| -?[0-9]+\.[0-9]{3}) \|$`)
	if m := lat.FindAllStringSubmatch(out, -1); len(m) != 3 || m[0][1] != "splice" || !strings.HasPrefix(m[0][2], "–") || strings.HasPrefix(m[1][2], "–") {
		t.Fatalf("want a splice latency row then ws-tcp and tcp-tcp with the latency they add, got %q:\n%s", m, out)
	}
	// The cost of each row per message, the splice's included; the gateway reads with read(2),
	// so its rows count system calls.
	cost := regexp.MustCompile(`(?m)^\| (splice|ws-tcp|tcp-ws|tcp-tcp) \| 1024 \| 4 \| ([0-9]+\.[0-9]) \| ([0-9]+\.[0-9]{2}) \|$`)
	costs := cost.FindAllStringSubmatch(out, -1)
	if len(costs) != 4 || costs[0][1] != "splice" {
		t.Fatalf("want the splice's cost row then one per scenario, got %q:\n%s", costs, out)
	}
	for _, c := range costs[1:] {
		if sys, _ := strconv.ParseFloat(c[3], 64); sys <= 0 {
			t.Fatalf("%s: %s system calls per message:\n%s", c[1], c[3], out)
		}
	}
	idle := regexp.MustCompile(`(?m)^\| 20 \| [0-9.]+ s \| ([0-9]+\.[0-9]{2} s|not steady in 15 s) \| -?[0-9.]+ MiB \| -?[0-9.]+ KiB \| -?[0-9.]+ KiB \| -?[0-9.]+ KiB \| [0-9.]+ \|$`)
	if !idle.MatchString(out) {
		t.Fatalf("no idle-connection row:\n%s", out)
	}
	for _, name := range []string{"ws → tcp", "tcp → ws", "tcp → tcp"} {
		if !strings.Contains(out, "| "+name) {
			t.Fatalf("no transfer row %q:\n%s", name, out)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-sizes", "x"}, {"-windows", "0"}, {"-gateway", "/nonexistent"}, {"-runs", "0"},
		{"-rates", "fast"}, {"-scenarios", "tcp-tcp,opensips"}, {"-kamailio-workers", "0"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "msrpbench") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errb.String())
		}
	}
}

// The cost table divides what the relaying process spent over the measuring window by the
// messages delivered in it. Stand-in usages charge a fixed cost per delivered message —
// tcp-tcp 10 µs and 2 system calls, kamailio 30 µs and 1 — so the table must show those and a
// CPU ratio of 3 (Kamailio spends three times as much per message).
func TestGridCosts(t *testing.T) {
	s, err := newSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	charging := func(name string, cpu time.Duration, sys int64) scenario {
		return scenario{name, func(ctx context.Context) (*sender, *counter, func(), error) {
			snd, err := plainPeer(s.addr())
			if err != nil {
				return nil, nil, nil, err
			}
			snd.to = s.path()
			return snd, &s.counter, snd.w.close, nil
		}, func() (benchkit.Usage, error) {
			n := s.counter.n.Load()
			return benchkit.Usage{CPU: time.Duration(n) * cpu, Syscalls: n * sys}, nil
		}}
	}
	all := map[string]scenario{
		"splice":   charging("splice", 5*time.Microsecond, 0),
		"tcp-tcp":  charging("tcp-tcp", 10*time.Microsecond, 2),
		"kamailio": charging("kamailio", 30*time.Microsecond, 1),
	}
	o := options{scenarios: []string{"tcp-tcp", "kamailio"}, sizes: []int{256}, windows: []int{4}, runs: 3, duration: 100 * time.Millisecond}
	var stdout, stderr bytes.Buffer
	if err := grid(context.Background(), o, all, &kamailioProc{dir: t.TempDir()}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	if !strings.Contains(out, "| scenario | size | window | CPU µs/msg | syscalls/msg | CPU vs kamailio |\n") {
		t.Fatalf("no cost table:\n%s", out)
	}
	row := regexp.MustCompile(`(?m)^\| (splice|tcp-tcp|kamailio) \| 256 \| 4 \| ([0-9.]+) \| ([0-9.]+) \| ?([0-9.]*) \|$`)
	rows := row.FindAllStringSubmatch(out, -1)
	if len(rows) != 3 {
		t.Fatalf("want 3 cost rows, got %q:\n%s", rows, out)
	}
	// Counts and usage are read a moment apart, so allow 5%.
	near := func(what, got string, want float64) {
		t.Helper()
		v, err := strconv.ParseFloat(got, 64)
		if err != nil || v < want*0.95 || v > want*1.05 {
			t.Errorf("%s = %q, want about %v:\n%s", what, got, want, out)
		}
	}
	for _, r := range rows {
		switch r[1] {
		case "splice":
			near("splice CPU µs/msg", r[2], 5)
			if r[3] != "0.00" || r[4] != "" {
				t.Errorf("splice row %q", r[0])
			}
		case "tcp-tcp":
			near("tcp-tcp CPU µs/msg", r[2], 10)
			near("tcp-tcp syscalls/msg", r[3], 2)
			near("CPU vs kamailio", r[4], 3)
		case "kamailio":
			near("kamailio CPU µs/msg", r[2], 30)
			near("kamailio syscalls/msg", r[3], 1)
			if r[4] != "" {
				t.Errorf("kamailio row compares with itself: %q", r[0])
			}
		}
	}
	if stderr.Len() != 0 {
		t.Fatalf("stderr: %s", stderr.String())
	}
}

// A row whose usage cannot be read shows unknown costs and says why, once, on stderr.
func TestGridCostUnknown(t *testing.T) {
	s, err := newSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	sc := scenario{"tcp-tcp", func(ctx context.Context) (*sender, *counter, func(), error) {
		snd, err := plainPeer(s.addr())
		if err != nil {
			return nil, nil, nil, err
		}
		snd.to = s.path()
		return snd, &s.counter, snd.w.close, nil
	}, func() (benchkit.Usage, error) { return benchkit.Usage{}, errors.New("no such process") }}
	o := options{scenarios: []string{"tcp-tcp"}, sizes: []int{256}, windows: []int{1, 4}, runs: 2, duration: 40 * time.Millisecond}
	var stdout, stderr bytes.Buffer
	if err := grid(context.Background(), o, map[string]scenario{"splice": sc, "tcp-tcp": sc}, nil, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"1", "4"} {
		if !strings.Contains(stdout.String(), "| tcp-tcp | 256 | "+w+" | – | – |\n") {
			t.Fatalf("no unknown-cost row for window %s:\n%s", w, stdout.String())
		}
	}
	if n := strings.Count(stderr.String(), "tcp-tcp: no CPU and system call figures: no such process"); n != 1 {
		t.Fatalf("the reason is said %d times, want once:\n%s", n, stderr.String())
	}
}

func TestIdleRow(t *testing.T) {
	const n = 1000
	before := benchkit.Settling{Value: 10 << 20, After: 2 * time.Second, Steady: true}
	after := benchkit.Settling{Value: 10<<20 + n*20<<10, After: 2250 * time.Millisecond, Steady: true}
	m0 := benchkit.MemStats{StackInuse: 1 << 20, HeapInuse: 4 << 20}
	m1 := benchkit.MemStats{StackInuse: 1<<20 + n*8<<10, HeapInuse: 4<<20 + n*9<<10}
	got := idleRow("1000", n, 200*time.Millisecond, before, after, m0, m1, n)
	want := "| 1000 | 0.2 s | 2.25 s | 19.5 MiB | 20.0 KiB | 8.0 KiB | 9.0 KiB | 1.00 |"
	if got != want {
		t.Fatalf("idleRow:\n got %s\nwant %s", got, want)
	}
	after.Steady, after.After = false, 15*time.Second+3*time.Millisecond
	if got := idleRow("1000", n, 0, before, after, m0, m1, n); !strings.Contains(got, "| not steady in 15 s |") {
		t.Fatalf("an unsettled row does not say so: %s", got)
	}
	// Memory the runtime gave back shows as negative growth, not as a wrapped-around number.
	if got := idleRow("1000", n, 0, before, after, m1, m0, 0); !strings.Contains(got, "| -8.0 KiB | -9.0 KiB | 0.00 |") {
		t.Fatalf("shrinking stacks and heap: %s", got)
	}
}
