package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/simplegw/simplegw/cmd/internal/benchkit"
)

// The Kamailio baseline: Debian's kamailio with the msrp module as the relay between the same
// TCP peer and native client as the tcp-tcp rows (RFC 4976: the client AUTHs, the peer sends
// to its Use-Path). Its config is testdata/kamailio-msrp.cfg at the repository root.

// kamailioSbin is where Debian installs kamailio; /usr/sbin is not on every user's PATH.
const kamailioSbin = "/usr/sbin/kamailio"

// findKamailio returns the path of the kamailio binary — on PATH, else kamailioSbin — or ""
// when it is not installed.
func findKamailio() string {
	if p, err := exec.LookPath("kamailio"); err == nil {
		return p
	}
	if st, err := os.Stat(kamailioSbin); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return kamailioSbin
	}
	return ""
}

// kamailioVersion returns the first line of `kamailio -v` without its "version: " prefix.
func kamailioVersion(bin string) string {
	out, err := exec.Command(bin, "-v").Output()
	if err != nil {
		return "unknown version"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(strings.TrimPrefix(first, "version:"))
}

// kamailioWorkers is the number of TCP worker processes the baseline runs: as many as the
// machine has cores, and at least 2.
func kamailioWorkers(cpus int) int { return max(2, cpus) }

// kamailioArgs is the command line of the baseline: config cfg, in the foreground with its
// children forked (-DD), logging to stderr (-E), workers TCP workers (-N; -n for any other
// listener), 64 MiB shared and 8 MiB private memory, working and runtime directory and pid
// file in dir, and the listen address given to the config as the MSRP_LISTEN define.
func kamailioArgs(cfg, dir, addr string, workers int) []string {
	n := strconv.Itoa(workers)
	return []string{
		"-f", cfg,
		"-DD", "-E",
		"-n", n, "-N", n,
		"-m", "64", "-M", "8",
		"-w", dir, "-Y", dir,
		"-P", filepath.Join(dir, "kamailio.pid"),
		"-A", "MSRP_LISTEN=tcp:" + addr,
	}
}

// kamailioProc is a running baseline relay. Its process tree lives in a process group of its
// own so that stop can end every child; everything it writes (log, pid file, runtime files)
// stays in dir, which stop removes. One goroutine uses it at a time.
type kamailioProc struct {
	bin, cfg string
	workers  int

	addr   string // host:port of its MSRP listener
	dir    string
	cmd    *exec.Cmd
	exited chan struct{} // closed once the main process has exited and been reaped
}

// errKamailioExited is a start that failed because the process exited, most likely because
// the port picked for it was taken in the meantime.
var errKamailioExited = errors.New("kamailio exited before it listened")

// kamailioReady bounds the wait for the baseline's listener.
const kamailioReady = 10 * time.Second

// startKamailio starts the baseline on a free loopback port and waits until it accepts
// connections; a start that loses its port to another program is retried twice.
func startKamailio(bin, cfg string, workers int) (*kamailioProc, error) {
	cfg, err := filepath.Abs(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg); err != nil {
		return nil, fmt.Errorf("kamailio config: %w", err)
	}
	k := &kamailioProc{bin: bin, cfg: cfg, workers: workers}
	for range 3 {
		if err = k.launch(); !errors.Is(err, errKamailioExited) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

// launch starts one kamailio process tree in a new temporary directory.
func (k *kamailioProc) launch() error {
	dir, err := os.MkdirTemp("", "msrpbench-kamailio-")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	logf, err := os.Create(filepath.Join(dir, "kamailio.log"))
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	cmd := exec.Command(k.bin, kamailioArgs(k.cfg, dir, addr, k.workers)...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	logf.Close() // the child holds its own descriptor
	if err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("start kamailio: %w", err)
	}
	k.addr, k.dir, k.cmd, k.exited = addr, dir, cmd, make(chan struct{})
	exited := k.exited
	go func() {
		cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(kamailioReady)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			tail := k.tail(20)
			k.stop()
			return fmt.Errorf("%w:\n%s", errKamailioExited, tail)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tail := k.tail(20)
			k.stop()
			return fmt.Errorf("kamailio did not listen on %s within %v:\n%s", addr, kamailioReady, tail)
		}
	}
}

// alive reports whether the main process is still running.
func (k *kamailioProc) alive() bool {
	select {
	case <-k.exited:
		return false
	default:
		return true
	}
}

// ensure restarts the baseline when it has exited (a failing row may have brought it down).
func (k *kamailioProc) ensure() error {
	if k.alive() {
		return nil
	}
	k.stop()
	for range 3 {
		err := k.launch()
		if !errors.Is(err, errKamailioExited) {
			return err
		}
	}
	return errKamailioExited
}

// usage sums what every process of the baseline's process group (the main process and all the
// workers it forked) has spent so far.
func (k *kamailioProc) usage() (benchkit.Usage, error) {
	if k.cmd == nil {
		return benchkit.Usage{}, errors.New("kamailio is not running")
	}
	return benchkit.ReadGroupUsage(k.cmd.Process.Pid)
}

// tail returns the last n lines of the baseline's log.
func (k *kamailioProc) tail(n int) string {
	b, err := os.ReadFile(filepath.Join(k.dir, "kamailio.log"))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// stop ends the process tree — SIGTERM to the main process, which stops its children; after
// 5 s, or for any child left once it has exited, SIGKILL to the whole group — waits until
// no process of the group is left (at most 5 s more) and removes the temporary directory.
func (k *kamailioProc) stop() {
	if k.cmd == nil {
		return
	}
	pid := k.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	select {
	case <-k.exited:
	case <-t.C:
	}
	t.Stop()
	syscall.Kill(-pid, syscall.SIGKILL)
	<-k.exited
	// Children left behind are reparented and reaped by init; wait until the group is empty.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if err := syscall.Kill(-pid, 0); errors.Is(err, syscall.ESRCH) {
			break
		}
		syscall.Kill(-pid, syscall.SIGKILL)
		time.Sleep(10 * time.Millisecond)
	}
	os.RemoveAll(k.dir)
	k.cmd = nil
}

// groupAlive reports whether any process of the baseline's last process group is left.
func groupAlive(pid int) bool {
	return !errors.Is(syscall.Kill(-pid, 0), syscall.ESRCH)
}

// oneLine makes err fit a table cell: one line, no column separators.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(err.Error()), " "), "|", "/")
}
