//go:build !unix

package netbuf

import (
	"errors"
	"syscall"
)

// readRaw is not available here: New never sets Conn.raw on these systems.
func readRaw(rc syscall.RawConn, p []byte, idle func()) (int, error) {
	return 0, errors.ErrUnsupported
}

func waitRaw(rc syscall.RawConn) error { return errors.ErrUnsupported }

const rawReads = false
