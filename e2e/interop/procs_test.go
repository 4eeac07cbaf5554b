//go:build interop

package interop

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// waitFor bounds every wait in these tests: a deadlock guard, never a
// speed assertion.
const waitFor = 20 * time.Second

// need returns the path of the program name from the Debian package pkg, or
// fails the test naming the package. The sbin directories are searched too,
// as kamailio lives in /usr/sbin, which is not on every user's PATH.
func need(t *testing.T, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("%s not found: install the Debian package %q (apt-get install -y %s; `make test-interop` does it when run as root)", name, pkg, pkg)
	return ""
}

// lockedBuffer collects a process's output; safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freePort returns a port that is free on 127.0.0.1 for both UDP and TCP
// when this function returns. Another process may take it before the caller
// binds it; callers retry.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no port free on both UDP and TCP on 127.0.0.1")
	return 0
}

// kamailio is a running Kamailio listening on Addr over UDP and TCP.
type kamailio struct {
	Addr   string // 127.0.0.1:port
	log    *lockedBuffer
	exited chan struct{} // closed when the main process has been reaped
}

// errExitedEarly means Kamailio stopped before it answered; with a port
// taken in the meantime, another port is tried.
var errExitedEarly = errors.New("kamailio exited before it was ready")

// startKamailio runs Debian's kamailio with testdata/kamailio.cfg in the
// foreground (-DD: no daemon, children forked; -E: log to stderr) with its
// runtime directory and pid file in a temporary directory, listening on a
// free port of 127.0.0.1 for UDP and TCP, and waits until it answers an
// OPTIONS. It is stopped (SIGTERM, then SIGKILL to its process group) when
// the test ends; its log is printed when the test failed.
func startKamailio(t *testing.T, password, domain string) *kamailio {
	t.Helper()
	bin := need(t, "kamailio", "kamailio")
	cfg, err := filepath.Abs(filepath.Join("testdata", "kamailio.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	var last error
	for range 3 {
		k, err := runKamailio(t, bin, cfg, freePort(t), password, domain)
		if err == nil {
			return k
		}
		last = err
		if !errors.Is(err, errExitedEarly) {
			break
		}
	}
	t.Fatal(last)
	return nil
}

func runKamailio(t *testing.T, bin, cfg string, port int, password, domain string) (*kamailio, error) {
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin,
		"-f", cfg,
		"-DD", "-E",
		"-Y", dir,
		"-P", filepath.Join(dir, "kamailio.pid"),
		"-l", "udp:"+addr,
		"-l", "tcp:"+addr,
		"-A", `SIP_DOMAIN="`+domain+`"`,
		"-A", `AUTH_PASSWORD="`+password+`"`,
	)
	k := &kamailio{Addr: addr, log: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Dir = dir
	cmd.Stdout = k.log
	cmd.Stderr = k.log
	// Its own process group, so that its children can be ended with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start kamailio: %w", err)
	}
	pid := cmd.Process.Pid
	go func() {
		cmd.Wait()
		close(k.exited)
	}()
	stop := func() {
		syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-k.exited:
		case <-time.After(10 * time.Second):
		}
		// Whatever is left of the group this test created.
		syscall.Kill(-pid, syscall.SIGKILL)
		<-k.exited
	}
	if err := k.awaitReady(); err != nil {
		stop()
		return nil, fmt.Errorf("%w\n--- kamailio output ---\n%s", err, k.log.String())
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("--- kamailio output ---\n%s", k.log.String())
		}
	})
	return k, nil
}

// awaitReady sends OPTIONS to Kamailio over UDP until it answers 200 (its
// config answers OPTIONS to itself), then checks its TCP listener.
func (k *kamailio) awaitReady() error {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer pc.Close()
	dst, err := net.ResolveUDPAddr("udp", k.Addr)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(waitFor)
	buf := make([]byte, 65536)
	for n := 1; time.Now().Before(deadline); n++ {
		select {
		case <-k.exited:
			return errExitedEarly
		default:
		}
		probe := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\n"+
			"Via: SIP/2.0/UDP %s;branch=z9hG4bKprobe%d;rport\r\n"+
			"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=probe\r\nTo: <sip:%s>\r\n"+
			"Call-ID: probe-%d\r\nCSeq: %d OPTIONS\r\nContent-Length: 0\r\n\r\n",
			k.Addr, pc.LocalAddr(), n, k.Addr, n, n)
		if _, err := pc.WriteTo([]byte(probe), dst); err != nil {
			return err
		}
		// The answer is awaited for a short while, then the probe is
		// sent again: Kamailio may not have bound its socket yet.
		pc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		m, _, err := pc.ReadFrom(buf)
		if err != nil {
			continue
		}
		res, err := sip.ParseMessage(buf[:m])
		if r, ok := res.(*sip.Response); err == nil && ok && r.StatusCode == 200 {
			c, err := net.DialTimeout("tcp", k.Addr, waitFor)
			if err != nil {
				return fmt.Errorf("kamailio answers on UDP but not TCP: %w", err)
			}
			c.Close()
			return nil
		}
	}
	return fmt.Errorf("kamailio did not answer OPTIONS on %s within %v", k.Addr, waitFor)
}

// sippResult is what one SIPp run left.
type sippResult struct {
	err      error  // nil when SIPp exited 0: every call succeeded
	output   string // stdout and stderr
	messages string // -trace_msg log: every message sent and received
	errors   string // -trace_err log: unexpected messages
}

func (r sippResult) String() string {
	return fmt.Sprintf("exit: %v\n--- output ---\n%s\n--- messages ---\n%s\n--- errors ---\n%s",
		r.err, r.output, r.messages, r.errors)
}

// runSIPp starts Debian's sipp (package sip-tester) with one of the
// scenarios in testdata/sipp for one call to service@domain at Kamailio,
// over transport ("u1" UDP, "t1" TCP), from 127.0.0.1 and a free port. The
// result arrives on the returned channel when SIPp exits.
func runSIPp(t *testing.T, scenario, remote, transport, service string, keys map[string]string) <-chan sippResult {
	t.Helper()
	bin := need(t, "sipp", "sip-tester")
	sf, err := filepath.Abs(filepath.Join("testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	msgFile := filepath.Join(dir, "messages.log")
	errFile := filepath.Join(dir, "errors.log")
	args := []string{remote,
		"-sf", sf,
		"-m", "1",
		"-s", service,
		"-i", "127.0.0.1",
		"-t", transport,
		"-nostdin",
		"-timeout", strconv.Itoa(int(waitFor/time.Second)) + "s",
		"-timeout_error",
		"-trace_msg", "-message_file", msgFile,
		"-trace_err", "-error_file", errFile,
	}
	for k, v := range keys {
		args = append(args, "-key", k, v)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out := &lockedBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sipp: %v", err)
	}
	done := make(chan sippResult, 1)
	go func() {
		err := cmd.Wait()
		msgs, _ := os.ReadFile(msgFile)
		errs, _ := os.ReadFile(errFile)
		done <- sippResult{err: err, output: out.String(), messages: string(msgs), errors: string(errs)}
	}()
	t.Cleanup(func() {
		// SIPp ends by itself (-m 1, -timeout); this only guards a
		// test that failed before reading the result.
		select {
		case <-done:
		default:
			cmd.Process.Kill()
		}
	})
	return done
}

// awaitSIPp waits for a SIPp run to end and fails the test unless it exited 0.
func awaitSIPp(t *testing.T, ch <-chan sippResult) sippResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("sipp failed: %s", r)
		}
		return r
	case <-time.After(waitFor + 10*time.Second):
		t.Fatal("sipp did not end")
		return sippResult{}
	}
}

// receivedResponses returns the responses SIPp logged as received in its
// -trace_msg file, parsed, in order.
func receivedResponses(t *testing.T, messages string) []*sip.Response {
	t.Helper()
	var out []*sip.Response
	// Each logged message starts with a separator line of dashes and a
	// "<transport> message received [n] bytes :" line, then a blank line.
	for _, part := range strings.Split(messages, "----------------------------------------------- ")[1:] {
		head, body, ok := strings.Cut(part, "\n\n")
		if !ok || !strings.Contains(head, "message received") {
			continue
		}
		raw := strings.TrimLeft(body, "\r\n")
		raw = strings.ReplaceAll(strings.ReplaceAll(raw, "\r\n", "\n"), "\n", "\r\n")
		m, err := sip.ParseMessage([]byte(raw))
		if err != nil {
			t.Fatalf("sipp logged an unparseable message: %v\n%s", err, raw)
		}
		if r, ok := m.(*sip.Response); ok {
			out = append(out, r)
		}
	}
	return out
}
