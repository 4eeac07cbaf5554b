package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// readyTimeout bounds the wait for a child's ready line.
const readyTimeout = 10 * time.Second

// gatewayProc is the simplegw binary under test.
type gatewayProc struct {
	cmd    *exec.Cmd
	http   string // host:port of the HTTP/WebSocket listener
	sip    string // host:port of SIP on UDP and TCP
	stderr *tail
}

// startGateway runs bin with every listener on 127.0.0.1 port 0 and the
// embedded registrar in open demo mode (no -users, no -auth-secret), and
// waits for its ready line.
func startGateway(ctx context.Context, bin string, extra []string) (*gatewayProc, error) {
	args := append([]string{"-http", "127.0.0.1:0", "-msrp", "127.0.0.1:0", "-sip", "127.0.0.1:0",
		"-domain", domain}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	g := &gatewayProc{cmd: cmd, stderr: &tail{max: 16 << 10}}
	cmd.Stderr = g.stderr
	// Settings from the environment would change what is measured.
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
	fields, err := readReady(out, "simplegw ready")
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("%s: %w\n%s", bin, err, g.stderr)
	}
	g.http, g.sip = fields["http"], fields["sip"]
	if g.http == "" || g.sip == "" {
		g.stop()
		return nil, fmt.Errorf("%s: ready line without http= or sip=", bin)
	}
	return g, nil
}

// peakRSS is the gateway's peak resident set size so far (VmHWM), in bytes.
func (g *gatewayProc) peakRSS() int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(g.cmd.Process.Pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}

// stop asks the gateway to shut down (SIGINT) and kills it after 5 s.
func (g *gatewayProc) stop() {
	stopProc(g.cmd, os.Interrupt)
}

func stopProc(cmd *exec.Cmd, sig os.Signal) {
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

// readReady waits for the line starting with prefix on r and returns its
// key=value fields; the rest of r is discarded so the child never blocks
// on a full pipe.
func readReady(r io.Reader, prefix string) (map[string]string, error) {
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
	t := time.NewTimer(readyTimeout)
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
		return nil, fmt.Errorf("no ready line within %v", readyTimeout)
	}
}

// tail keeps the last max bytes written to it; safe for concurrent use.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// responderProc is the baseline: this program re-executed as a SIP
// responder.
type responderProc struct {
	cmd      *exec.Cmd
	udp, tcp string
}

func startResponder(ctx context.Context) (*responderProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "responder", "-listen", "127.0.0.1:0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	fields, err := readReady(out, "responder ready")
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("baseline responder: %w", err)
	}
	return &responderProc{cmd: cmd, udp: fields["udp"], tcp: fields["tcp"]}, nil
}

func (r *responderProc) stop() { stopProc(r.cmd, os.Kill) }
