package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/simplegw/simplegw/cmd/internal/benchkit"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
)

// gatewayProc is the simplegw binary under test, with its profiler on a free loopback port
// (the profiler is where goroutines are counted).
type gatewayProc struct {
	*benchkit.Gateway
	http  string // host:port of the HTTP/WebSocket listener
	msrp  string // host:port of the MSRP TCP listener
	pprof string // host:port of its profiler ("" when extra sets -pprof itself)
}

func startGateway(ctx context.Context, bin string, extra []string) (*gatewayProc, error) {
	var args []string
	pprofAddr := ""
	if !strings.Contains(strings.Join(extra, " "), "-pprof") {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		pprofAddr = ln.Addr().String()
		ln.Close()
		args = append(args, "-pprof", pprofAddr)
	}
	g, err := benchkit.StartGateway(ctx, bin, append(args, extra...)...)
	if err != nil {
		return nil, err
	}
	return &gatewayProc{Gateway: g, http: g.Addrs["http"], msrp: g.Addrs["msrp"], pprof: pprofAddr}, nil
}

// peakRSS is the gateway's peak resident set size so far (VmHWM), in bytes.
func (g *gatewayProc) peakRSS() int64 { return g.Status("VmHWM") }

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
	fields, err := benchkit.ReadReady(out, "splice ready")
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("splice proxy: %w", err)
	}
	return &spliceProc{cmd: cmd, addr: fields["addr"]}, nil
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
	fmt.Println("splice ready addr=" + ln.Addr().String())
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
