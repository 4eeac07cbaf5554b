// Package benchkit is what simplegw's benchmark programs (msrpbench, sipbench) share: the
// gateway under test as a child process started from its binary, the ready line of a child,
// what a process costs (resident memory, CPU time and system calls from Linux's procfs, a Go
// program's MemStats from its profiler), waiting until a reading is steady, and medians.
package benchkit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ReadyTimeout bounds the wait for a child's ready line.
const ReadyTimeout = 10 * time.Second

// Gateway is the simplegw binary under test, running as a child process.
type Gateway struct {
	Cmd *exec.Cmd
	// Addrs holds the listeners of its ready line: "http", "msrp", "sip", …
	Addrs  map[string]string
	stderr *Tail
}

// StartGateway runs bin with every listener on 127.0.0.1 port 0, then args, with the
// SIMPLEGW_* variables of this environment removed (they would change what is measured), and
// waits for its ready line. With no -users or -auth-secret in args the gateway runs in its
// open loopback demo mode.
func StartGateway(ctx context.Context, bin string, args ...string) (*Gateway, error) {
	all := append([]string{"-http", "127.0.0.1:0", "-msrp", "127.0.0.1:0", "-sip", "127.0.0.1:0"}, args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	g := &Gateway{Cmd: cmd, stderr: &Tail{Max: 16 << 10}}
	cmd.Stderr = g.stderr
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SIMPLEGW_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	g.Addrs, err = ReadReady(out, "simplegw ready")
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("%s: %w\n%s", bin, err, g.stderr)
	}
	for _, k := range []string{"http", "msrp", "sip"} {
		if g.Addrs[k] == "" {
			g.Stop()
			return nil, fmt.Errorf("%s: ready line without %s=", bin, k)
		}
	}
	return g, nil
}

// Status returns a "kB" field of the gateway's /proc status (VmRSS, VmHWM), in bytes.
func (g *Gateway) Status(field string) int64 { return ProcStatus(g.Cmd.Process.Pid, field) }

// Stop asks the gateway to shut down (SIGINT) and kills it after 5 s.
func (g *Gateway) Stop() { StopProcess(g.Cmd, os.Interrupt) }

// ProcStatus reads a "kB" field of /proc/PID/status, in bytes; 0 if unavailable.
func ProcStatus(pid int, field string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}

// StopProcess signals cmd with sig and kills it if it has not exited 5 s later.
func StopProcess(cmd *exec.Cmd, sig os.Signal) {
	cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		cmd.Process.Kill()
		<-done
	}
}

// ReadReady waits (at most ReadyTimeout) for the line of r starting with prefix and returns
// its key=value fields; the rest of r is discarded so the child never blocks on a full pipe.
func ReadReady(r io.Reader, prefix string) (map[string]string, error) {
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), prefix) {
				lines <- sc.Text()
				io.Copy(io.Discard, r)
				return
			}
		}
		close(lines)
	}()
	t := time.NewTimer(ReadyTimeout)
	defer t.Stop()
	select {
	case l, ok := <-lines:
		if !ok {
			return nil, errors.New("exited before its ready line")
		}
		fields := map[string]string{}
		for _, f := range strings.Fields(strings.TrimPrefix(l, prefix)) {
			if k, v, ok := strings.Cut(f, "="); ok {
				fields[k] = v
			}
		}
		return fields, nil
	case <-t.C:
		return nil, fmt.Errorf("no ready line within %v", ReadyTimeout)
	}
}

// Tail keeps the last Max bytes written to it; safe for concurrent use.
type Tail struct {
	Max int

	mu sync.Mutex
	b  []byte
}

func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.Max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// ParseInts parses a comma-separated list of positive numbers.
func ParseInts(s string) ([]int, error) {
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

// Median returns the median of v (the mean of the middle two for an even count).
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
