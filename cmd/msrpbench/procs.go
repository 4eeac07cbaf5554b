package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// gatewayProc is the simplegw binary under test, started with every port 0.
type gatewayProc struct {
	cmd   *exec.Cmd
	http  string // host:port of the HTTP/WebSocket listener
	msrp  string // host:port of the MSRP TCP listener
	pprof string // host:port of its profiler

	mu   sync.Mutex
	peak int64
	done chan struct{}
}

func startGateway(ctx context.Context, bin string, extra []string) (*gatewayProc, error) {
	args := []string{"-http", "127.0.0.1:0", "-msrp", "127.0.0.1:0", "-sip", "127.0.0.1:0"}
	pprofAddr := ""
	if !strings.Contains(strings.Join(extra, " "), "-pprof") {
		// The profiler is where goroutines are counted.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		pprofAddr = ln.Addr().String()
		ln.Close()
		args = append(args, "-pprof", pprofAddr)
	}
	args = append(args, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	g := &gatewayProc{cmd: cmd, done: make(chan struct{}), pprof: pprofAddr}
	line, err := readReady(out, "simplegw ready ", 10*time.Second)
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	for _, f := range strings.Fields(line)[2:] {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "http":
			g.http = v
		case "msrp":
			g.msrp = v
		}
	}
	if g.http == "" || g.msrp == "" {
		cmd.Process.Kill()
		return nil, fmt.Errorf("ready line without http= or msrp=: %q", line)
	}
	go g.sampleRSS()
	return g, nil
}

func readReady(r io.Reader, prefix string, timeout time.Duration) (string, error) {
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
	select {
	case l, ok := <-lines:
		if !ok {
			return "", errors.New("exited before its ready line")
		}
		return l, nil
	case <-time.After(timeout):
		return "", errors.New("no ready line within " + timeout.String())
	}
}

// sampleRSS records the gateway's peak resident set size (VmHWM) while it runs.
func (g *gatewayProc) sampleRSS() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-g.done:
			return
		case <-t.C:
			if v := procStatus(g.cmd.Process.Pid, "VmHWM"); v > 0 {
				g.mu.Lock()
				g.peak = max(g.peak, v)
				g.mu.Unlock()
			}
		}
	}
}

func (g *gatewayProc) peakRSS() int64 {
	if v := procStatus(g.cmd.Process.Pid, "VmHWM"); v > 0 {
		g.mu.Lock()
		g.peak = max(g.peak, v)
		g.mu.Unlock()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peak
}

// procStatus reads a "kB" field of /proc/PID/status, in bytes.
func procStatus(pid int, field string) int64 {
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

func (g *gatewayProc) stop() {
	close(g.done)
	g.cmd.Process.Signal(os.Interrupt)
	waited := make(chan struct{})
	go func() { g.cmd.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		g.cmd.Process.Kill()
	}
}

// spliceProc is the baseline: this program re-executed as a plain TCP splice proxy.
type spliceProc struct {
	cmd  *exec.Cmd
	addr string
}

func startSplice(ctx context.Context, to string) (*spliceProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "splice", "-listen", "127.0.0.1:0", "-to", to)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := readReady(out, "splice ready ", 10*time.Second)
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("splice proxy: %w", err)
	}
	return &spliceProc{cmd: cmd, addr: strings.TrimPrefix(line, "splice ready ")}, nil
}

func (s *spliceProc) stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// runSplice is the baseline proxy: every connection to -listen is joined to a new connection
// to -to with io.Copy in both directions, nothing parsed.
func runSplice(args []string) int {
	fs := flag.NewFlagSet("splice", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	to := fs.String("to", "", "address to connect each client to")
	if err := fs.Parse(args); err != nil || *to == "" {
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("splice ready", ln.Addr())
	for {
		a, err := ln.Accept()
		if err != nil {
			return 1
		}
		go func() {
			defer a.Close()
			b, err := net.Dial("tcp", *to)
			if err != nil {
				return
			}
			defer b.Close()
			go func() { io.Copy(a, b); a.Close() }()
			io.Copy(b, a)
		}()
	}
}
