package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
	if !regexp.MustCompile(`(?m)^\| 20 \| [0-9.]+ s \| -?[0-9.]+ MiB \| -?[0-9.]+ KiB \| [0-9.]+ \|$`).MatchString(out) {
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
