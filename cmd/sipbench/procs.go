package main

import (
	"context"
	"fmt"
	"github.com/simplegw/simplegw/cmd/internal/benchkit"
	"os"
	"os/exec"
)

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
	fields, err := benchkit.ReadReady(out, "responder ready")
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("baseline responder: %w", err)
	}
	return &responderProc{cmd: cmd, udp: fields["udp"], tcp: fields["tcp"]}, nil
}

func (r *responderProc) stop() { benchkit.StopProcess(r.cmd, os.Kill) }
