//go:build unix

package netbuf

import (
	"errors"
	"syscall"
)

// readRaw reads into p from rc's socket. When nothing is waiting (EAGAIN), idle runs —
// outside rc.Read, which holds a reference on the descriptor that Close waits for — and the
// read is retried, parking in the poller until the socket is readable.
func readRaw(rc syscall.RawConn, p []byte, idle func()) (int, error) {
	var n int
	var err error
	try := func(wait bool) error {
		return rc.Read(func(fd uintptr) bool {
			for {
				n, err = syscall.Read(int(fd), p)
				if err != syscall.EINTR {
					break
				}
			}
			return !(wait && errors.Is(err, syscall.EAGAIN))
		})
	}
	if rerr := try(false); rerr != nil {
		return 0, rerr
	}
	if errors.Is(err, syscall.EAGAIN) {
		idle()
		if rerr := try(true); rerr != nil {
			return 0, rerr
		}
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
