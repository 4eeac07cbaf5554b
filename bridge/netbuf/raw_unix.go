//go:build unix

package netbuf

import (
	"errors"
	"syscall"
)

// readRaw reads into p from rc's socket. When nothing is waiting (EAGAIN), idle runs once and
// the goroutine parks in the runtime's poller until the socket is readable; a readiness
// event that comes while idle runs is not lost (the poller was armed before the first try).
func readRaw(rc syscall.RawConn, p []byte, idle func()) (int, error) {
	var n int
	var err error
	ran := false
	rerr := rc.Read(func(fd uintptr) bool {
		for {
			n, err = syscall.Read(int(fd), p)
			if err != syscall.EINTR {
				break
			}
		}
		if errors.Is(err, syscall.EAGAIN) {
			if !ran {
				ran = true
				idle()
			}
			return false
		}
		return true
	})
	if rerr != nil {
		return 0, rerr
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

// waitRaw parks until rc's socket is readable, peeking one byte (MSG_PEEK leaves it there).
func waitRaw(rc syscall.RawConn) error {
	var b [1]byte
	rerr := rc.Read(func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if err != syscall.EINTR {
				return err != syscall.EAGAIN
			}
		}
	})
	if rerr != nil {
		return rerr
	}
	return nil // data, end of stream or a socket error: the read that follows reports it
}

const rawReads = true
