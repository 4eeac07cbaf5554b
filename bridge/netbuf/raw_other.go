//go:build !unix

package netbuf

import (
	"errors"
	"syscall"
)

const rawReads = false

// rawReader is not available here: New never makes one on these systems.
type rawReader struct{}

func newRawReader(rc syscall.RawConn) *rawReader { return nil }

func (r *rawReader) Read(p []byte, idle func()) (int, error) { return 0, errors.ErrUnsupported }

func (r *rawReader) Wait() error { return errors.ErrUnsupported }
