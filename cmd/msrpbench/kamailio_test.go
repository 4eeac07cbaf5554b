package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// kamailioConfig is the baseline's config, at the repository root.
const kamailioConfig = "../../testdata/kamailio-msrp.cfg"

func TestKamailioArgs(t *testing.T) {
	got := kamailioArgs("/repo/testdata/kamailio-msrp.cfg", "/tmp/k1", "127.0.0.1:5555", 3)
	want := []string{
		"-f", "/repo/testdata/kamailio-msrp.cfg",
		"-DD", "-E",
		"-n", "3", "-N", "3",
		"-m", "64", "-M", "8",
		"-w", "/tmp/k1", "-Y", "/tmp/k1",
		"-P", "/tmp/k1/kamailio.pid",
		"-A", "MSRP_LISTEN=tcp:127.0.0.1:5555",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("kamailioArgs:\n got %q\nwant %q", got, want)
	}
}

func TestKamailioWorkers(t *testing.T) {
	for cpus, want := range map[int]int{1: 2, 2: 2, 4: 4, 16: 16} {
		if got := kamailioWorkers(cpus); got != want {
			t.Errorf("kamailioWorkers(%d) = %d, want %d", cpus, got, want)
		}
	}
}

// The config hands the listen address over as a define; the relay must not listen anywhere
// else, and must not be usable outside loopback by accident.
func TestKamailioConfig(t *testing.T) {
	b, err := os.ReadFile(kamailioConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for _, want := range []string{
		"#!define MSRP_LISTEN tcp:127.0.0.1:",
		"listen=MSRP_LISTEN",
		`loadmodule "msrp.so"`,
		"event_route[msrp:frame-in]",
		"msrp_cmap_save()",
		"msrp_cmap_lookup()",
		"msrp_relay()",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q", want)
		}
	}
	if n := regexp.MustCompile(`(?m)^listen=`).FindAllStringIndex(cfg, -1); len(n) != 1 {
		t.Errorf("config has %d listen lines, want 1", len(n))
	}
}

func TestOneLine(t *testing.T) {
	err := errors.New("kamailio did not listen:\n 5(1) ERROR: a | b\n\tc")
	if got, want := oneLine(err), "kamailio did not listen: 5(1) ERROR: a / b c"; got != want {
		t.Fatalf("oneLine = %q, want %q", got, want)
	}
}

// A failing Kamailio row is printed as failing with its reason, the tcp-tcp row says it has
// nothing to compare with, the log's tail goes to stderr, and the grid goes on.
func TestGridKamailioFails(t *testing.T) {
	s, err := newSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	// Stand-ins: the splice and tcp-tcp rows go straight to the sink.
	direct := scenario{"direct", func(ctx context.Context) (*sender, *counter, func(), error) {
		snd, err := plainPeer(s.addr())
		if err != nil {
			return nil, nil, nil, err
		}
		snd.to = s.path()
		return snd, &s.counter, snd.w.close, nil
	}, nil}
	calls := 0
	failing := scenario{"kamailio", func(ctx context.Context) (*sender, *counter, func(), error) {
		calls++
		return nil, nil, nil, errors.New("AUTH: status 501 Method not understood")
	}, nil}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kamailio.log"), []byte("line 1\nERROR: tcp_read(): buffer overrun\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kam := &kamailioProc{dir: dir}
	o := options{scenarios: []string{"tcp-tcp", "kamailio"}, sizes: []int{512}, windows: []int{1, 2}, runs: 2, duration: 40 * time.Millisecond}
	all := map[string]scenario{"splice": direct, "tcp-tcp": direct, "kamailio": failing}
	var stdout, stderr bytes.Buffer
	if err := grid(context.Background(), o, all, kam, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	if !strings.Contains(out, "| kamailio msgs/s | vs kamailio |") {
		t.Fatalf("no Kamailio columns:\n%s", out)
	}
	for _, w := range []string{"1", "2"} {
		if !regexp.MustCompile(`(?m)^\| tcp-tcp \| 512 \| ` + w + ` \| [1-9][0-9]* \| [0-9.]+ \| [1-9][0-9]* \| [0-9.]+ \| [0-9]+\.[0-9]{2} \| fails \| – \|$`).MatchString(out) {
			t.Fatalf("no tcp-tcp row for window %s without a Kamailio figure:\n%s", w, out)
		}
		if !strings.Contains(out, "| kamailio | 512 | "+w+" | fails: AUTH: status 501 Method not understood | – |") {
			t.Fatalf("no failing Kamailio row for window %s:\n%s", w, out)
		}
		// The cost table: the stand-ins name no process, so their costs are unknown.
		for _, row := range []string{
			"| splice | 512 | " + w + " | – | – |  |",
			"| tcp-tcp | 512 | " + w + " | – | – | – |",
			"| kamailio | 512 | " + w + " | fails | – |  |",
		} {
			if !strings.Contains(out, row+"\n") {
				t.Fatalf("no cost row %q:\n%s", row, out)
			}
		}
	}
	if calls != 2 {
		t.Fatalf("the failing row was tried %d times, want once per cell (2)", calls)
	}
	if !strings.Contains(stderr.String(), "buffer overrun") {
		t.Fatalf("the log's tail is not on stderr:\n%s", stderr.String())
	}
}

// TestKamailio runs the baseline for real — Debian's kamailio with the repository's config —
// through the same setup as the report's kamailio rows: a native client AUTHs, a plain TCP
// peer sends to its Use-Path, messages must arrive. Then a large frame (which Kamailio may
// refuse) must not hang the run nor stop the next one, and stopping leaves no process and no
// temporary directory behind.
func TestKamailio(t *testing.T) {
	bin := findKamailio()
	if bin == "" {
		t.Fatal("kamailio is not installed (neither on PATH nor at " + kamailioSbin + "): install the Debian package kamailio (apt-get install -y kamailio)")
	}
	k, err := startKamailio(bin, kamailioConfig, 2)
	if err != nil {
		t.Fatal(err)
	}
	pid, dir := k.cmd.Process.Pid, k.dir
	stopped := false
	defer func() {
		if !stopped {
			k.stop()
		}
	}()
	sc := kamailioScenario(k)
	ctx := context.Background()
	smp, err := measure(ctx, sc, 1024, 1, 200*time.Millisecond)
	if err != nil {
		t.Fatalf("1 KiB through kamailio: %v\n%s", err, k.tail(20))
	}
	if smp.rate <= 0 {
		t.Fatalf("1 KiB through kamailio: %v msgs/s", smp.rate)
	}
	// Its cost is summed over the whole process group. At window 1 the next SEND is sent only
	// after the 200 to the last, so a worker reads each SEND with a read(2) of its own.
	if smp.costErr != nil || smp.cost.Syscalls < smp.msgs || smp.cost.CPU < 0 {
		t.Fatalf("kamailio's usage over %d messages: %+v, %v", smp.msgs, smp.cost, smp.costErr)
	}
	if _, err := measure(ctx, sc, 65536, 1, 100*time.Millisecond); err != nil {
		t.Logf("64 KiB through kamailio fails as expected of it: %v", err)
	}
	if smp, err := measure(ctx, sc, 1024, 1, 100*time.Millisecond); err != nil || smp.rate <= 0 {
		t.Fatalf("1 KiB through kamailio after a large frame: %v msgs/s, %v\n%s", smp.rate, err, k.tail(20))
	}

	k.stop()
	stopped = true
	if groupAlive(pid) {
		t.Fatalf("a kamailio process of group %d is left", pid)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary directory %s left: %v", dir, err)
	}
}
